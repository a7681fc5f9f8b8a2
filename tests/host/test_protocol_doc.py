"""docs/PROTOCOL.md agrees with the code: its generated tables and worked example are exactly
what tools/gen_protocol_doc.py produces from purse.proto and tests/core/_example.py today."""

import importlib.util

from mp_support import ROOT

spec = importlib.util.spec_from_file_location(
    "gen_protocol_doc", ROOT / "tools/gen_protocol_doc.py"
)
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)


def test_generated_blocks_match_the_code():
    text = gen.DOC.read_text()
    assert set(gen.blocks(text)) == set(gen.RENDERERS)
    fresh = gen.blocks(gen.generate(text))
    for name, content in gen.blocks(text).items():
        assert content == fresh[name], (
            "docs/PROTOCOL.md block %r is out of date: run python tools/gen_protocol_doc.py" % name
        )


def test_check_mode_detects_a_stale_document(tmp_path, monkeypatch):
    stale = gen.DOC.read_text().replace("| `A4` | SELECT |", "| `A5` | SELECT |", 1)
    assert stale != gen.DOC.read_text()
    doc = tmp_path / "PROTOCOL.md"
    doc.write_text(stale)
    monkeypatch.setattr(gen, "DOC", doc)
    assert gen.main(["gen", "--check"]) == 1
    assert gen.main(["gen"]) == 0
    assert gen.main(["gen", "--check"]) == 0
