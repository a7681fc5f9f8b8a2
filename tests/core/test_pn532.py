"""The PN532 driver byte for byte: frames from the user manual (UM0701-02), every command the
wallet uses, and every error path, against a scripted transport that plays the chip."""

from _check import raises, unhex

from purse import pn532

ACK = unhex("00 00 FF 00 FF 00")
NACK = unhex("00 00 FF FF 00 00")
ERROR_FRAME = unhex("00 00 FF 01 FF 7F 81 00")

# The manual's GetFirmwareVersion exchange: command, and a PN532 v1.6 answer.
GET_FIRMWARE = unhex("00 00 FF 02 FE D4 02 2A 00")
FIRMWARE_1_6 = unhex("00 00 FF 06 FA D5 03 32 01 06 07 E8 00")
SAM_NORMAL = unhex("00 00 FF 05 FB D4 14 01 14 01 02 00")
SAM_ANSWER = unhex("00 00 FF 02 FE D5 15 16 00")


def _frame(tfi, data):
    """A frame around TFI and `data`, checksums computed here independently of the driver: a
    normal frame, or an extended one (LEN FF FF LENM LENL LCS) beyond 254 bytes."""
    body = bytes((tfi,)) + bytes(data)
    dcs = (0x100 - sum(body) % 0x100) % 0x100
    n = len(body)
    if n > 254:
        head = bytes(
            (0, 0, 0xFF, 0xFF, 0xFF, n // 256, n % 256, (0x200 - n // 256 - n % 256) % 256)
        )
    else:
        head = bytes((0, 0, 0xFF, n, (0x100 - n) % 0x100))
    return head + body + bytes((dcs, 0))


def chip(data):
    """A chip-to-host frame around `data` (response code and parameters)."""
    return _frame(0xD5, data)


def host(data):
    return _frame(0xD4, data)


class Script:
    """A transport whose chip answers are queued; `None` in the queue is a chip that stays
    silent (wait_ready answers False)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.written = []
        self.woken = 0

    def wakeup(self):
        self.woken += 1

    def write(self, data):
        self.written.append(bytes(data))

    def wait_ready(self, timeout_ms):
        if self.answers and self.answers[0] is None:
            self.answers.pop(0)
            return False
        return bool(self.answers)

    def read(self, n):
        return self.answers.pop(0)[:n]


def _driver(*answers):
    script = Script(*answers)
    return pn532.PN532(script), script


def test_frames_of_the_manual():
    assert pn532.encode_frame(b"\x02") == GET_FIRMWARE
    assert pn532.encode_frame(b"\x14\x01\x14\x01") == SAM_NORMAL
    assert pn532.decode_frame(FIRMWARE_1_6) == ("data", unhex("03 32 01 06 07"))
    assert pn532.decode_frame(ACK) == ("ack", b"")
    assert pn532.decode_frame(NACK) == ("nack", b"")
    # Leading zeros (an I2C read after the status byte) and trailing bytes are skipped.
    assert pn532.decode_frame(b"\x00\x00" + SAM_ANSWER + b"\x00\x00") == ("data", b"\x15")
    assert pn532.encode_frame(bytes(250)) == host(bytes(250))


def test_extended_frames_both_ways():
    # nfcpy's Diagnose line test: 263 bytes of parameters, 265 of TFI and PD, the most the chip
    # takes from its host; the chip echoes them in an extended frame of its own.
    params = b"\x00" + bytes(i & 0xFF for i in range(262))
    frame = pn532.encode_frame(b"\x00" + params)
    assert frame[:8] == unhex("00 00 FF FF FF 01 09 F6") and frame == host(b"\x00" + params)
    assert len(frame) == 265 + 10
    answer = chip(b"\x01" + params)
    assert pn532.decode_frame(answer) == ("data", b"\x01" + params)
    assert pn532.frame_end(b"\x55" + answer + ACK) == 1 + len(answer)
    assert pn532.frame_end(answer[:7]) is None and pn532.frame_end(answer[:-1]) is None
    # The boundary: 254 bytes still fit a normal frame, 255 need an extended one.
    assert pn532.encode_frame(bytes(253))[3] == 254
    assert pn532.encode_frame(bytes(254))[3:5] == unhex("FF FF")
    with raises(pn532.FrameError, "over the chip's 265"):
        pn532.encode_frame(bytes(265))
    bad = bytearray(answer)
    bad[7] ^= 1
    with raises(pn532.FrameError, "length checksum fails (extended"):
        pn532.decode_frame(bytes(bad))
    chip_, script = _driver(ACK, answer)
    assert chip_.call(0x00, params, response_max=264) == params
    assert script.written == [frame]


def test_damaged_frames_are_refused():
    bad_lcs = bytearray(FIRMWARE_1_6)
    bad_lcs[4] ^= 1
    bad_dcs = bytearray(FIRMWARE_1_6)
    bad_dcs[-2] ^= 1
    for raw, text in (
        (bytes(bad_lcs), "length checksum"),
        (bytes(bad_dcs), "data checksum"),
        (FIRMWARE_1_6[:8], "truncated"),
        (unhex("00 00 FF FF FF 01"), "extended frame is truncated"),
        (unhex("FF 00 FF"), "no frame start"),
        (host(b"\x02"), "direction"),
    ):
        with raises(pn532.FrameError, text):
            pn532.decode_frame(raw)
    with raises(pn532.ErrorFrame, "syntax-error frame"):
        pn532.decode_frame(ERROR_FRAME)
    # A command the chip rejects ends in a clear error, not a retry.
    chip_, script = _driver(ACK, ERROR_FRAME)
    with raises(pn532.ErrorFrame, "rejects the command"):
        chip_.call(0x16, unhex("20"))
    assert script.written == [host(unhex("16 20"))]


def test_begin_wakes_checks_and_configures():
    chip_, script = _driver(ACK, FIRMWARE_1_6, ACK, SAM_ANSWER)
    assert chip_.begin() == (0x32, 1, 6, 7)
    assert script.woken == 1
    assert script.written == [GET_FIRMWARE, SAM_NORMAL]


def test_a_chip_that_is_not_a_pn532_is_refused():
    chip_, _ = _driver(ACK, chip(unhex("03 33 01 06 07")))
    with raises(pn532.PN532Error, "not a PN532"):
        chip_.firmware_version()


def test_target_role_frames():
    uid = unhex("A1 B2 C3")
    chip_, script = _driver(
        ACK, chip(b"\x13"),  # SetParameters
        ACK, chip(unhex("8D 08 E0 80")),  # TgInitAsTarget: mode (PICC), the reader's RATS
        ACK, chip(unhex("87 00 00 A4 04 00")),  # TgGetData: status 00, an APDU
        ACK, chip(unhex("8F 00")),  # TgSetData
    )  # fmt: skip
    assert chip_.init_as_target(uid) == unhex("E0 80")
    assert chip_.get_data() == unhex("00 A4 04 00")
    chip_.set_data(unhex("90 00"))
    params = unhex("04") + unhex("04 00 A1 B2 C3 20") + bytes(18) + bytes(10) + unhex("00 00")
    assert script.written == [
        host(unhex("12 34")),  # PICC, and the automatic RATS and ATR_RES of the reset default
        host(unhex("8C") + params),
        host(unhex("86")),
        host(unhex("8E 90 00")),
    ]


def test_initiator_role_frames():
    chip_, script = _driver(
        ACK, chip(b"\x13"),
        ACK, chip(unhex("4B 01 01 04 00 20 04 08 A1 B2 C3 05 78 80 70 02")),
        ACK, chip(unhex("41 00 6A 82")),
        ACK, chip(unhex("53 00")),
    )  # fmt: skip
    target, uid, ats = chip_.list_target()
    assert (target, uid, ats) == (1, unhex("08 A1 B2 C3"), unhex("05 78 80 70 02"))
    assert chip_.exchange(1, unhex("00 A4 04 00")) == unhex("6A 82")
    chip_.release(1)
    assert script.written == [
        host(unhex("12 14")),  # The reader's flags: automatic RATS (and ATR_RES) on.
        host(unhex("4A 01 00")),
        host(unhex("40 01 00 A4 04 00")),
        host(unhex("52 01")),
    ]


def test_no_target_in_the_field_and_a_non_iso_target():
    set_params = (ACK, chip(b"\x13"))
    chip_, _ = _driver(*set_params, ACK, chip(unhex("4B 00")))
    assert chip_.list_target() is None
    chip_, _ = _driver(*set_params, ACK, chip(unhex("4B 01 01 00 04 08 04 A1 B2 C3 D4")))
    with raises(pn532.PN532Error, "not an ISO 14443-4"):
        chip_.list_target()


def test_a_board_that_was_a_card_reads_with_automatic_rats_again():
    """Card first (PICC flags), reader next: the reader's SetParameters turns the automatic RATS
    back on, so the chip brings the ATS and ISO-DEP; a second read sends no SetParameters."""
    found = chip(unhex("4B 01 01 00 04 20 04 08 A1 B2 C3 05 78 80 70 02"))
    chip_, script = _driver(
        ACK, chip(b"\x13"), ACK, chip(unhex("8D 08 E0 80")),
        ACK, chip(b"\x13"), ACK, found, ACK, found,
    )  # fmt: skip
    chip_.init_as_target(unhex("A1 B2 C3"))
    chip_.list_target()
    chip_.list_target()
    sent = [frame[5:7] for frame in script.written]
    assert sent == [unhex("D4 12"), unhex("D4 8C"), unhex("D4 12"), unhex("D4 4A"), unhex("D4 4A")]
    assert script.written[0] == host(unhex("12 34")) and script.written[2] == host(unhex("12 14"))
    assert chip_.flags == 0x14


def test_a_target_without_ats_is_refused():
    # An ISO 14443-4 card (SAK bit 5) listed without ATS: the chip did not send RATS, so it
    # would not run ISO-DEP for InDataExchange.
    chip_, _ = _driver(ACK, chip(b"\x13"), ACK, chip(unhex("4B 01 01 00 04 20 04 08 A1 B2 C3")))
    with raises(pn532.PN532Error, "no valid ATS"):
        chip_.list_target()
    chip_, _ = _driver(
        ACK, chip(b"\x13"), ACK, chip(unhex("4B 01 01 00 04 20 04 08 A1 B2 C3 07 78"))
    )
    with raises(pn532.PN532Error, "no valid ATS (0778)"):
        chip_.list_target()


def test_a_target_not_activated_as_picc_is_refused():
    chip_, _ = _driver(ACK, chip(b"\x13"), ACK, chip(unhex("8D 00 E0 80")))
    with raises(pn532.PN532Error, "not activate the card as ISO 14443-4 (mode 00)"):
        chip_.init_as_target(unhex("A1 B2 C3"))


def test_status_errors_are_named():
    for code, text in ((0x01, "did not answer"), (0x29, "released"), (0x2B, "disappeared")):
        chip_, _ = _driver(ACK, chip(bytes((0x41, code))))
        with raises(pn532.StatusError, text) as caught:
            chip_.exchange(1, b"\x00")
        assert caught.value.code == code
    # Bit 6 (more information) is not an error.
    chip_, _ = _driver(ACK, chip(unhex("87 40 01 02")))
    assert chip_.get_data() == unhex("01 02")


def test_a_damaged_answer_is_asked_for_again_with_nack():
    damaged = bytearray(SAM_ANSWER)
    damaged[-2] ^= 0xFF
    chip_, script = _driver(ACK, bytes(damaged), SAM_ANSWER)
    assert chip_.call(0x14, unhex("01 14 01")) == b""
    assert script.written == [SAM_NORMAL, NACK]


def test_a_nack_from_the_chip_resends_the_command():
    chip_, script = _driver(NACK, ACK, SAM_ANSWER)
    chip_.call(0x14, unhex("01 14 01"))
    assert script.written == [SAM_NORMAL, SAM_NORMAL]


def test_damage_beyond_the_retries_is_an_error():
    damaged = bytearray(SAM_ANSWER)
    damaged[-2] ^= 0xFF
    chip_, _ = _driver(ACK, bytes(damaged), bytes(damaged), bytes(damaged))
    with raises(pn532.FrameError, "data checksum"):
        chip_.call(0x14, unhex("01 14 01"))
    chip_, _ = _driver(NACK, NACK, NACK)
    with raises(pn532.FrameError, "did not acknowledge command 14"):
        chip_.call(0x14, unhex("01 14 01"))


def test_a_missing_ack_resends_the_command():
    # The chip ignores a frame that reached it damaged: no ACK. The driver sends the command
    # again (UM0701-02, 6.2.1.3), and the second one is taken.
    chip_, script = _driver(None, ACK, FIRMWARE_1_6)
    assert chip_.firmware_version() == (0x32, 1, 6, 7)
    assert script.written == [GET_FIRMWARE, GET_FIRMWARE]


def test_silence_is_a_timeout():
    chip_, script = _driver(None, None, None)
    with raises(pn532.Timeout, "did not acknowledge command 02 in 3 tries"):
        chip_.firmware_version()
    assert script.written == [GET_FIRMWARE] * 3  # Nothing taken, nothing to abort.
    chip_, script = _driver(ACK, None)
    with raises(pn532.Timeout, "within 5000 ms"):
        chip_.get_data(5000)
    # The chip had taken the command: the host's ACK aborts it.
    assert script.written == [host(unhex("86")), ACK]


def test_a_command_that_crosses_the_air_is_never_sent_twice():
    """Attacker review: a lost ACK may be the only thing lost, the chip having carried the
    APDU over the air already; a resent InDataExchange would run it twice (a GET RESPONSE
    answered with the next part). It is aborted instead, and the caller told."""
    exchange = host(unhex("40 01 80 C0 00 00 00"))
    chip_, script = _driver(None, ACK)
    with raises(pn532.Timeout, "not sent again"):
        chip_.exchange(1, unhex("80 C0 00 00 00"))
    assert script.written == [exchange, ACK]
    # TgSetData and TgGetData likewise.
    for call in (lambda c: c.set_data(unhex("90 00")), lambda c: c.get_data(100)):
        chip_, script = _driver(None, ACK)
        with raises(pn532.Timeout, "not sent again"):
            call(chip_)
        assert len(script.written) == 2 and script.written[1] == ACK
    # A damaged ACK comes only from a chip that took the command: its answer is read.
    damaged_ack = unhex("00 00 FF 00 FE 00")
    chip_, script = _driver(damaged_ack, chip(unhex("41 00 90 00")))
    assert chip_.exchange(1, unhex("80 C0 00 00 00")) == unhex("90 00")
    assert script.written == [exchange]


def test_noise_on_the_line_does_not_hold_back_the_frames_behind_it():
    """Attacker review: an extended-frame header of noise named up to 65,535 bytes, and every
    frame after it waited for them. A header whose length checksum fails, or longer than the
    chip's frames, is skipped."""
    noise = unhex("00 FF FF FF 12 34 56")
    assert pn532.frame_bounds(noise + ACK + SAM_ANSWER) == (len(noise) + 1, len(noise) + 6)
    too_long = unhex("00 FF FF FF 01 10 EF")  # A valid checksum, 272 bytes: no chip frame.
    assert pn532.frame_end(too_long + ACK) == len(too_long) + 6
    bad_lcs = unhex("00 FF 05 05")
    assert pn532.frame_end(bad_lcs + SAM_ANSWER) == len(bad_lcs) + len(SAM_ANSWER)
    assert pn532.frame_end(noise) is None


def test_an_answer_to_another_command_is_refused():
    chip_, _ = _driver(ACK, SAM_ANSWER)
    with raises(pn532.FrameError, "something else"):
        chip_.firmware_version()


def test_a_byte_stream_is_cut_at_frame_ends():
    stream = unhex("55 55 00 00") + ACK + SAM_ANSWER
    end = pn532.frame_end(stream)
    assert stream[:end].endswith(ACK[1:]) and pn532.frame_end(stream[end:]) == len(SAM_ANSWER)
    assert pn532.frame_end(SAM_ANSWER[:-2]) is None
    assert pn532.frame_end(b"\x55\x55\x00") is None
