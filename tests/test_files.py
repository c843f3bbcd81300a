import pytest

from rtxcourse.files import atomic_write


def test_atomic_write_text_and_bytes(tmp_path):
    p = atomic_write(tmp_path / "sub" / "a.bin", b"\x00\x01")
    assert p.read_bytes() == b"\x00\x01"
    atomic_write(p, "tëxt")
    assert p.read_text(encoding="utf-8") == "tëxt"
    assert [x.name for x in p.parent.iterdir()] == ["a.bin"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path):
    p = atomic_write(tmp_path / "a.txt", "old")
    with pytest.raises(TypeError):
        atomic_write(p, 42)  # not str/bytes: fails while writing
    assert p.read_text() == "old" and [x.name for x in tmp_path.iterdir()] == ["a.txt"]
