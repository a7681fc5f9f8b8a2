"""The wallet: the card's payer and recipient state machines over its durable store."""
