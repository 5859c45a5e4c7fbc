import io
import json
import zipfile

import numpy as np
import pytest

from vcnn import Network, load_network, save_network
from vcnn.modelfile import load_arrays, load_meta, save_arrays

SPEC = [{"type": "conv", "c_in": 1, "c_out": 3, "k": 3}, {"type": "relu"},
        {"type": "full_conv", "c_in": 3, "c_out": 1, "k": 2}]


def test_round_trip_is_bit_exact(tmp_path):
    net = Network.from_spec(SPEC, rng=0)
    path = tmp_path / "m.npz"
    save_network(path, net, {"step": 7})
    loaded, meta = load_network(path)
    assert meta["step"] == 7 and meta["architecture"] == SPEC and meta["format_version"] == 1
    for (_, a, _), (_, b, _) in zip(net.parameters(), loaded.parameters()):
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes()
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]     # no temporary file left


def test_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __meta__=np.frombuffer(b"{}", np.uint8), obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="pickled objects"):
        load_arrays(path)


@pytest.mark.parametrize("corrupt,message", [
    (lambda p: p.write_bytes(b"not a zip at all"), "not a valid .npz"),
    (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a valid .npz"),
])
def test_corrupt_file_is_refused(tmp_path, corrupt, message):
    path = tmp_path / "m.npz"
    save_network(path, Network.from_spec(SPEC, rng=0))
    corrupt(path)
    with pytest.raises(ValueError, match=message):
        load_network(path)


def test_wrong_shape_nan_and_version_are_refused(tmp_path):
    net = Network.from_spec(SPEC, rng=0)
    arrays = {name: value for name, value, _ in net.parameters()}
    meta = {"architecture": SPEC}
    bad_shape = dict(arrays, **{"0.W": np.zeros((3, 1, 2, 2), np.float32)})
    save_arrays(tmp_path / "a.npz", bad_shape, meta)
    with pytest.raises(ValueError, match=r"array 0.W must be float32 \(3, 1, 3, 3\)"):
        load_network(tmp_path / "a.npz")
    nan = dict(arrays, **{"0.b": np.full(3, np.nan, np.float32)})
    save_arrays(tmp_path / "b.npz", nan, meta)
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_network(tmp_path / "b.npz")
    save_arrays(tmp_path / "c.npz", {k: v for k, v in arrays.items() if k != "2.b"}, meta)
    with pytest.raises(ValueError, match=r"missing \['2.b'\]"):
        load_network(tmp_path / "c.npz")
    with zipfile.ZipFile(tmp_path / "d.npz", "w") as z:
        with z.open("__meta__.npy", "w") as f:
            np.save(f, np.frombuffer(json.dumps({"format_version": 99}).encode(), np.uint8))
    with pytest.raises(ValueError, match="format version 99, expected 1"):
        load_network(tmp_path / "d.npz")
    with pytest.raises(ValueError, match="does not exist"):
        load_network(tmp_path / "missing.npz")


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.npz"
    save_network(path, Network.from_spec(SPEC, rng=0))
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save_arrays(path, {"x": np.array([object()])}, {"bad": object()})
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


# ------------------------------------------------------------- crafted files (issue 12, item 3)

def _npz_with_member(path, name, header_shape, dtype="<f4", data=b"", compress=False):
    """A zip holding __meta__ and one member whose .npy header declares `header_shape`."""
    header = {"descr": dtype, "fortran_order": False, "shape": header_shape}
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    meta = io.BytesIO()
    np.lib.format.write_array(meta, np.frombuffer(json.dumps({"format_version": 1, "architecture": SPEC}).encode(),
                                                  np.uint8))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        z.writestr("__meta__.npy", meta.getvalue())
        z.writestr(name, buffer.getvalue() + data)


def test_a_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "huge.npz"
    _npz_with_member(path, "0.W.npy", (10 ** 12,), data=b"\0" * 64)
    with pytest.raises(ValueError, match=r"declares .*1000000000000.* but holds"):
        load_arrays(path)


def test_a_zip_bomb_is_refused_from_its_directory(tmp_path, monkeypatch):
    import vcnn.modelfile
    path = tmp_path / "bomb.npz"
    _npz_with_member(path, "0.W.npy", (1 << 20,), data=b"\0" * (4 << 20), compress=True)
    assert path.stat().st_size < 20_000                           # 4 MB of zeros, deflated
    monkeypatch.setattr(vcnn.modelfile, "MAX_FILE_BYTES", 1 << 20)
    with pytest.raises(ValueError, match="would inflate to 4,194,"):
        load_arrays(path)


def test_a_member_that_is_not_an_array_and_an_object_header_are_refused(tmp_path):
    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("notes.txt", b"hello")
    with pytest.raises(ValueError, match="'notes.txt' is not an .npy array"):
        load_arrays(path)
    _npz_with_member(path, "obj.npy", (3,), dtype="|O")
    with pytest.raises(ValueError, match="pickled objects"):
        load_arrays(path)


@pytest.mark.parametrize("field,value,words", [
    ("c_out", 10 ** 9, "c_out must be an integer in 1..16384"),
    ("k", 10 ** 6, "k must be an integer in 1..256"),
    ("c_out", 3.0, "c_out must be an integer"),
    ("c_out", True, "c_out must be an integer"),
    ("c_out", "3", "c_out must be an integer"),
])
def test_an_architecture_too_large_or_mistyped_is_refused_before_building(tmp_path, field, value, words):
    spec = json.loads(json.dumps(SPEC))
    spec[0][field] = value
    path = tmp_path / "m.npz"
    save_arrays(path, {}, {"architecture": spec})
    with pytest.raises(ValueError, match=words):
        load_network(path)


def test_too_many_weights_are_refused(tmp_path):
    spec = [{"type": "conv", "c_in": 16_000, "c_out": 16_000, "k": 200}]
    path = tmp_path / "m.npz"
    save_arrays(path, {}, {"architecture": spec})
    with pytest.raises(ValueError, match="weights, more than the limit"):
        load_network(path)


def test_deeply_nested_metadata_is_one_clean_error(tmp_path):
    path = tmp_path / "deep.npz"
    blob = np.frombuffer(b"[" * 100_000 + b"]" * 100_000, np.uint8)
    np.savez(path, __meta__=blob)
    with pytest.raises(ValueError, match="unreadable metadata"):
        load_arrays(path)


def test_a_damaged_deflated_member_is_one_value_error(tmp_path):
    """A compressed npz (``np.savez_compressed``) whose deflate stream is broken where the .npy header
    lies: zlib's error while the headers are checked is "not a valid .npz", not a zlib.error."""
    path = tmp_path / "m.npz"
    save_network(path, Network.from_spec(SPEC, rng=0))
    arrays, meta = load_arrays(path)
    np.savez_compressed(path, __meta__=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    load_network(path)                                              # the compressed file itself loads
    with zipfile.ZipFile(path) as z:
        offset = z.getinfo("0.W.npy").header_offset
    data = bytearray(path.read_bytes())
    name_length, extra_length = np.frombuffer(data, "<u2", 2, offset + 26)
    data[offset + 30 + name_length + extra_length] ^= 0xFF         # the first byte of its deflate stream
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"m.npz is not a valid .npz: .*decompressing"):
        load_network(path)


def _no_meta(path):
    np.savez(path, a=np.zeros(3, np.float32))


def _version_99(path):
    np.savez(path, __meta__=np.frombuffer(json.dumps({"format_version": 99}).encode(), np.uint8))


def _meta_crc_broken(path):
    """A valid model file whose metadata member has one byte changed: the zip's CRC-32 check fails on reading it."""
    save_network(path, Network.from_spec(SPEC, rng=0), {"step": 3})
    with zipfile.ZipFile(path) as z:
        member = z.getinfo("__meta__.npy")
    data = bytearray(path.read_bytes())
    name_length, extra_length = np.frombuffer(data, "<u2", 2, member.header_offset + 26)
    data[member.header_offset + 30 + name_length + extra_length + member.compress_size - 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make,message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b"not a zip at all"), "not a valid .npz"),
    (_no_meta, "has no metadata"),
    (_version_99, "format version 99, expected 1"),
    (_meta_crc_broken, r"not a valid .npz: .*Bad CRC-32"),
])
def test_load_meta_refuses_what_load_arrays_refuses_with_the_same_line(tmp_path, make, message):
    path = tmp_path / "m.npz"
    make(path)
    with pytest.raises(ValueError, match=message) as from_arrays:
        load_arrays(path)
    with pytest.raises(ValueError, match=message) as from_meta:
        load_meta(path)
    assert str(from_meta.value) == str(from_arrays.value) and "\n" not in str(from_meta.value)


def test_load_meta_reads_the_metadata_load_arrays_reads(tmp_path):
    path = tmp_path / "m.npz"
    save_network(path, Network.from_spec(SPEC, rng=0), {"step": 7})
    assert load_meta(path) == load_arrays(path)[1]
    assert load_meta(path)["step"] == 7 and load_meta(path)["architecture"] == SPEC


def test_an_unreadable_npz_is_said_in_one_format_and_memory_error_is_not_enough_memory(tmp_path, monkeypatch):
    """check_npz, load_arrays and load_meta say "not a valid .npz: <error type>: <its text>" alike; a
    MemoryError (whose text is empty) says "not enough memory to read it", not that the file is invalid."""
    import vcnn.modelfile
    from vcnn.modelfile import check_npz
    path = tmp_path / "m.npz"
    save_network(path, Network.from_spec(SPEC, rng=0))
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
    data = bytearray(path.read_bytes())
    data[first.header_offset:first.header_offset + 4] = b"XXXX"       # the first member's local header is gone
    path.write_bytes(bytes(data))
    for read in (check_npz, load_arrays, load_meta):
        with pytest.raises(ValueError, match=r"^model file \S+m.npz is not a valid .npz: BadZipFile: Bad magic"):
            read(path)
    save_network(path, Network.from_spec(SPEC, rng=0))

    def no_memory(*args, **kwargs):
        raise MemoryError()

    monkeypatch.setattr(np, "load", no_memory)
    monkeypatch.setattr(vcnn.modelfile.np.lib.format, "read_array", no_memory)
    for read in (load_arrays, load_meta):
        with pytest.raises(ValueError, match=r"^model file \S+m.npz: not enough memory to read it$"):
            read(path)
