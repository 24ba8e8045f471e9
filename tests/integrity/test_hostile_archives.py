"""Names from outside are data, never paths: hostile run archives and altered stored records.

Every archive of the corpus is built here from a real exported run (run 2 of the toy world of
tests/cli, recorded by Sacred) with one hostile change and a header whose sha256s match, so
only the new checks can refuse it. Each is imported into a file store and into the real
MongoDB-protocol server, each already holding one run; the refusal must be one line naming the
member or field, and the whole test directory (the target store, the files an attack aims at)
and every collection of the database must be byte-for-byte as before.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pymongo
import pytest

from reproml.errors import ReproMLError, UnsafeNameError
from reproml.runs.archive import HEADER, _CappedStream, export_run, import_archive
from reproml.runs.file_store import FileStore
from reproml.runs.mongo_store import MongoStore
from reproml.runs.safe_names import ArchiveLimits, name_problem, stored_resource, stored_source
from tests.mongo_server import database_url

# Small caps, so a bomb is refused after a few MiB (the defaults are GiBs).
SMALL = ArchiveLimits(member_bytes=1 << 20, total_bytes=4 << 20, members=64, header_bytes=1 << 20)
SECRET = b"the user's private key\n"


# ------------------------------------------------------------------------ building archives


class _Zeros:
    """`size` zero bytes, read in chunks (a bomb is never held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


@dataclasses.dataclass
class Hostile:
    """An archive under construction: header, regular members, and extra raw tar entries."""

    header: dict
    members: dict[str, bytes]
    outside: Path  # the directory an attack aims at (holds secret.txt)
    extra: list = dataclasses.field(default_factory=list)  # (TarInfo, reader or None)
    zip_extra: list = dataclasses.field(default_factory=list)  # (ZipInfo, bytes)
    relist: bool = True  # recompute the header's sha256s

    def entry(self) -> dict:
        return json.loads(self.members["run/run.json"])

    def set_entry(self, entry: dict) -> None:
        self.members["run/run.json"] = json.dumps(entry).encode()


def _info(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, link: str = ""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mode = kind, size, link, 0o644
    return info


def _header_bytes(h: Hostile) -> bytes:
    header = dict(h.header)
    if h.relist:
        header["members"] = {n: hashlib.sha256(d).hexdigest() for n, d in h.members.items()}
    return json.dumps(header).encode()


def write_tar(h: Hostile, path: Path) -> Path:
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        data = _header_bytes(h)
        tar.addfile(_info(HEADER, size=len(data)), io.BytesIO(data))
        for name, data in h.members.items():
            tar.addfile(_info(name, size=len(data)), io.BytesIO(data))
        for info, reader in h.extra:
            tar.addfile(info, reader)
    return path


def write_zip(h: Hostile, path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(HEADER, _header_bytes(h))
        for info, data in h.zip_extra:
            z.writestr(info, data)
        for name, data in h.members.items():
            z.writestr(name, data)
    return path


def _source(h: Hostile) -> dict:
    return h.header["sources"][0]


# ------------------------------------------------------------------------ the corpus


def _slip(name: str) -> Callable[[Hostile], None]:
    def change(h: Hostile) -> None:
        h.members[name.format(outside=h.outside)] = b"planted\n"

    return change


def _unlisted(name: str) -> Callable[[Hostile], None]:
    """A member the header does not list (refused as it is read, not from the header)."""

    def change(h: Hostile) -> None:
        h.extra.append((_info(name.format(outside=h.outside), size=8), io.BytesIO(b"planted\n")))

    return change


def _special(name: str, kind: bytes, link: str = "") -> Callable[[Hostile], None]:
    def change(h: Hostile) -> None:
        h.extra.append((_info(name, kind, link=link.format(outside=h.outside)), None))

    return change


def _source_md5_escape(h: Hostile) -> None:
    # The attack of issue 20: import --mongo pasted the md5 into _sources/<stem>_<md5><ext> of
    # its staging directory in the system temp dir; this one climbs from there to outside/.
    climb = os.path.relpath(h.outside, tempfile.gettempdir())
    _source(h)["md5"] = f"x/../../../{climb}/pwned"


def _resource_md5_escape(h: Hostile) -> None:
    data = b'{"manifest": 1}'
    md5 = hashlib.md5(data).hexdigest()
    h.members[f"resources/{md5}/manifest.json"] = data
    h.header["resources"] = [
        {"filename": "manifest.json", "member": f"resources/{md5}/manifest.json", "md5": "../x"}
    ]


def _source_md5_wrong(h: Hostile) -> None:
    _source(h)["md5"] = "0" * 32


def _runjson_artifact(h: Hostile) -> None:
    # import accepted it; push then uploaded outside/secret.txt, export packed it.
    entry = h.entry()
    entry["artifacts"].append("../../outside/secret.txt")
    h.set_entry(entry)


def _runjson_artifact_absolute(h: Hostile) -> None:
    entry = h.entry()
    entry["artifacts"].append(str(h.outside / "secret.txt"))
    h.set_entry(entry)


def _runjson_artifact_unheld(h: Hostile) -> None:
    entry = h.entry()
    entry["artifacts"].append("model.zip")
    h.set_entry(entry)


def _header_artifact(h: Hostile) -> None:
    h.header["artifacts"][0]["name"] = "../../outside/secret.txt"


def _header_artifact_nul(h: Hostile) -> None:
    h.header["artifacts"][0]["name"] = "code.diff\x00.png"


def _header_artifact_member(h: Hostile) -> None:
    h.header["artifacts"][0]["member"] = "run/config.json"  # moved into the run as code.diff


def _source_name_dots(h: Hostile) -> None:
    _source(h)["name"] = "experiments/.."


def _duplicate(h: Hostile) -> None:
    data = h.members["run/metrics.json"]
    h.extra.append((_info("run/metrics.json", size=len(data)), io.BytesIO(data)))


def _file_and_dir(h: Hostile) -> None:
    h.extra.append((_info("run/run.json/x", size=1), io.BytesIO(b"x")))


def _bomb(h: Hostile) -> None:
    size = 16 << 20  # 16 MiB of zeros, ~16 KiB compressed; the cap is 1 MiB
    h.extra.append((_info("artifacts/bomb.bin", size=size), _Zeros(size)))


def _many_parts(h: Hostile) -> None:
    for i in range(5):  # each under the 1 MiB member cap, 4.5 MiB in all
        size = 900 << 10
        h.extra.append((_info(f"artifacts/part{i}", size=size), _Zeros(size)))


def _many_members(h: Hostile) -> None:
    for i in range(70):
        h.extra.append((_info(f"artifacts/m{i}", size=1), io.BytesIO(b"m")))


def _pax_bomb(h: Hostile) -> None:
    info = _info("artifacts/pax.txt", size=1)
    info.pax_headers = {"comment": "x" * (8 << 20)}  # read into memory by tarfile
    h.extra.append((info, io.BytesIO(b"p")))


def _runjson_not_json(h: Hostile) -> None:
    h.members["run/run.json"] = b"\xff not json"


def _big_header(h: Hostile) -> None:
    h.header["padding"] = "x" * (2 << 20)


def _zip_symlink(h: Hostile) -> None:
    info = zipfile.ZipInfo("artifacts/evil")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    h.zip_extra.append((info, str(h.outside / "secret.txt").encode()))


def _zip_dir(h: Hostile) -> None:
    h.zip_extra.append((zipfile.ZipInfo("run/config.json/"), b""))


def _zip_slip(h: Hostile) -> None:
    h.members["../../outside/zipslip.txt"] = b"planted\n"


def _zip_bomb(h: Hostile) -> None:
    h.zip_extra.append((zipfile.ZipInfo("artifacts/bomb.bin"), bytes(8 << 20)))


# (id, change, "tar" or "zip", what the refusal line says: it names the member or field)
CORPUS = [
    ("slip-dotdot", _slip("../../outside/escape.txt"), "tar",
     "member '../../outside/escape.txt' has a '..' part"),
    ("slip-dotdot-unlisted", _unlisted("../../outside/escape.txt"), "tar",
     "member '../../outside/escape.txt' has a '..' part"),
    ("slip-absolute-unlisted", _unlisted("{outside}/escape.txt"), "tar",
     "/escape.txt' is absolute"),
    ("slip-backslash-unlisted", _unlisted("..\\..\\outside\\escape.txt"), "tar",
     "holds a backslash"),
    ("slip-inner-dotdot", _slip("run/../../../outside/escape.txt"), "tar",
     "member 'run/../../../outside/escape.txt' has a '..' part"),
    ("slip-absolute", _slip("{outside}/escape.txt"), "tar", "/escape.txt' is absolute"),
    ("slip-backslash", _slip("..\\..\\outside\\escape.txt"), "tar", "holds a backslash"),
    ("slip-drive", _slip("C:/outside/escape.txt"), "tar",
     "member 'C:/outside/escape.txt' starts with a drive letter"),
    ("slip-empty-part", _slip("run//escape.txt"), "tar",
     "member 'run//escape.txt' has an empty part"),
    ("slip-dot-part", _slip("run/./escape.txt"), "tar", "member 'run/./escape.txt' has a '.' part"),
    ("symlink", _special("artifacts/evil", tarfile.SYMTYPE, "{outside}/secret.txt"), "tar",
     "member 'artifacts/evil' is a symbolic link to "),
    ("symlink-relative", _special("run/x", tarfile.SYMTYPE, "../../outside"), "tar",
     "member 'run/x' is a symbolic link to '../../outside'"),
    ("hardlink", _special("artifacts/evil", tarfile.LNKTYPE, "{outside}/secret.txt"), "tar",
     "member 'artifacts/evil' is a hard link to "),
    ("directory-for-file", _special("run/config.json", tarfile.DIRTYPE), "tar",
     "member 'run/config.json' is a directory: expected a plain file"),
    ("char-device", _special("artifacts/tty", tarfile.CHRTYPE), "tar",
     "member 'artifacts/tty' is a device"),
    ("block-device", _special("artifacts/sda", tarfile.BLKTYPE), "tar",
     "member 'artifacts/sda' is a device"),
    ("fifo", _special("artifacts/pipe", tarfile.FIFOTYPE), "tar",
     "member 'artifacts/pipe' is a fifo"),
    ("duplicate", _duplicate, "tar", "member 'run/metrics.json' appears twice"),
    ("file-and-dir", _file_and_dir, "tar",
     "member 'run/run.json/x' is both a file and a directory"),
    ("gzip-bomb", _bomb, "tar",
     "member 'artifacts/bomb.bin' decompresses to more than 1048576 bytes"),
    ("total-size", _many_parts, "tar",
     "member 'artifacts/part4' takes the archive beyond 4194304 bytes decompressed"),
    ("too-many-members", _many_members, "tar", "holds more than 64 members"),
    ("pax-header-bomb", _pax_bomb, "tar",
     "an extended tar header (pax or GNU long name) of 8388"),
    ("runjson-not-json", _runjson_not_json, "tar", "member run/run.json is not JSON"),
    ("header-bomb", _big_header, "tar", "member 'reproml-archive.json' is larger than 1048576"),
    ("source-md5-escape", _source_md5_escape, "tar", "sources[0].md5 'x/../../../"),
    ("source-md5-not-content", _source_md5_wrong, "tar",
     f"sources[0].md5 '{'0' * 32}' is not the md5 of member sources/"),
    ("resource-md5-escape", _resource_md5_escape, "tar", "resources[0].md5 '../x' is not an md5"),
    ("source-name-dots", _source_name_dots, "tar",
     "sources[0].name 'experiments/..' ends in no plain file name"),
    ("runjson-artifact-slip", _runjson_artifact, "tar",
     "member run/run.json artifact '../../outside/secret.txt' has a '..' part"),
    ("runjson-artifact-absolute", _runjson_artifact_absolute, "tar",
     "member run/run.json artifact '/"),
    ("runjson-artifact-not-held", _runjson_artifact_unheld, "tar",
     "member run/run.json artifact 'model.zip' is not in the archive's artifacts"),
    ("header-artifact-slip", _header_artifact, "tar",
     "artifacts[0].name '../../outside/secret.txt' has a '..' part"),
    ("header-artifact-nul", _header_artifact_nul, "tar",
     "artifacts[0].name 'code.diff\\x00.png' holds a NUL byte"),
    ("header-artifact-member", _header_artifact_member, "tar",
     "artifacts[0].member 'run/config.json' is not under artifacts/"),
    ("zip-slip", _zip_slip, "zip", "member '../../outside/zipslip.txt' has a '..' part"),
    ("zip-symlink", _zip_symlink, "zip", "member 'artifacts/evil' is a symbolic link"),
    ("zip-directory-for-file", _zip_dir, "zip",
     "member 'run/config.json/' is a directory: expected a plain file"),
    ("zip-bomb", _zip_bomb, "zip",
     "member 'artifacts/bomb.bin' decompresses to more than 1048576 bytes"),
]  # fmt: skip


# ------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def base(world, tmp_path_factory) -> tuple[dict, dict[str, bytes]]:
    """The header and members of run 2 of the toy world, exported once."""
    path = tmp_path_factory.mktemp("base") / "run-2.tar.gz"
    store = FileStore(world.store)
    export_run(store, store.get_run("2"), path)
    with tarfile.open(path) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar}
    return json.loads(members.pop(HEADER)), members


def _hostile(base, outside: Path) -> Hostile:
    header, members = base
    return Hostile(json.loads(json.dumps(header)), dict(members), outside)


def _tree(root: Path) -> dict[str, tuple]:
    """Every path under `root`: its kind and content (a file's sha256, a link's target)."""
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                tree[str(path.relative_to(root))] = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                tree[str(path.relative_to(root))] = ("file", digest)
            else:
                tree[str(path.relative_to(root))] = ("dir" if stat.S_ISDIR(mode) else "other",)
    return tree


def _database(db) -> dict[str, list[str]]:
    """Every document of every collection (GridFS chunks included), in a comparable form."""
    return {
        name: sorted(repr(sorted(doc.items())) for doc in db[name].find())
        for name in sorted(db.list_collection_names())
    }


@pytest.fixture
def sandbox(tmp_path, base):
    """A test directory: ``outside/secret.txt`` (what attacks aim at) and a file store target
    holding one imported run; returns (tmp_path, outside, target store)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    target = FileStore(tmp_path / "target")
    clean = write_tar(_hostile(base, outside), tmp_path / "clean.tar.gz")
    assert import_archive(clean, target).outcome == "imported"  # the builder makes good archives
    return tmp_path, outside, target


def _mongo_target(mongo_db, sandbox) -> MongoStore:
    url, db = mongo_db
    store = MongoStore(db, url)
    assert import_archive(sandbox[0] / "clean.tar.gz", store).outcome == "imported"
    return store


@pytest.fixture(scope="module")
def shared_mongo(mongo_server, base, tmp_path_factory):
    """``(url, db, store)``: a database holding one imported run, shared by the refusal tests
    (a refusal changes nothing: each test compares every collection before and after)."""
    url = database_url(mongo_server, "hostile")
    client = pymongo.MongoClient(url, serverSelectionTimeoutMS=5000)
    db = client.get_default_database()
    store = MongoStore(db, url)
    clean = tmp_path_factory.mktemp("clean") / "clean.tar.gz"
    write_tar(_hostile(base, clean.parent), clean)
    assert import_archive(clean, store).outcome == "imported"
    yield url, db, store
    client.drop_database(db.name)
    client.close()


# ------------------------------------------------------------------------ the tests


@pytest.mark.parametrize("store_kind", ["file", "mongodb"])
@pytest.mark.parametrize(
    ("change", "kind", "message"),
    [pytest.param(*case[1:], id=case[0]) for case in CORPUS],
)
def test_a_hostile_archive_is_refused_in_one_line_and_nothing_changes(
    base, sandbox, shared_mongo, store_kind, change, kind, message
):
    root, outside, target = sandbox
    url, db, mongo_store = shared_mongo
    store = target if store_kind == "file" else mongo_store
    hostile = _hostile(base, outside)
    change(hostile)
    archive = (write_zip if kind == "zip" else write_tar)(
        hostile, root / f"hostile.{'zip' if kind == 'zip' else 'tar.gz'}"
    )
    tree, database = _tree(root), _database(db)
    with pytest.raises(ReproMLError) as refused:
        import_archive(archive, store, SMALL)
    line = str(refused.value)
    assert "\n" not in line and message in line, line
    assert line.startswith(str(archive)) and line.endswith("refused"), line
    assert _tree(root) == tree  # nothing planted, nothing overwritten, no staging left
    assert _database(db) == database


@pytest.mark.parametrize("store_kind", ["file", "mongodb"])
def test_the_cli_prints_the_refusal_as_one_line(
    base, sandbox, shared_mongo, store_kind, cli, no_mongo_env
):
    root, outside, target = sandbox
    url, db, _ = shared_mongo
    where = ("--store", target.root) if store_kind == "file" else ("--mongo", url)
    for change, expected in (
        (_source_md5_escape, "sources[0].md5 'x/../../../"),
        (_runjson_artifact, "member run/run.json artifact '../../outside/secret.txt'"),
        (_special("artifacts/evil", tarfile.SYMTYPE, "{outside}/secret.txt"), "symbolic link"),
    ):
        hostile = _hostile(base, outside)
        change(hostile)
        archive = write_tar(hostile, root / "hostile.tar.gz")
        tree, database = _tree(root), _database(db)
        code, out, err = cli("import", archive, *where)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert err.startswith("reproml import: error: ") and expected in err, err
        assert _tree(root) == tree and _database(db) == database


def test_the_decompressed_tar_stream_is_capped_while_read(tmp_path):
    stream = _CappedStream(io.BytesIO(bytes(10)), 6, tmp_path / "a.tar")
    assert stream.read(4) == bytes(4)
    with pytest.raises(UnsafeNameError, match="a.tar decompresses to more than 6 bytes"):
        stream.read(4)
    with pytest.raises(UnsafeNameError, match="decompresses to more than 6 bytes"):
        _CappedStream(io.BytesIO(bytes(10)), 6, tmp_path / "a.tar").read()


@pytest.mark.parametrize("mode", ["w", "w:bz2", "w:xz", "zip"])
def test_the_same_run_repacked_plain_bz2_xz_or_zip_still_imports(base, sandbox, mode):
    root, outside, _ = sandbox
    hostile = _hostile(base, outside)
    if mode == "zip":
        archive = write_zip(hostile, root / "repacked.zip")
    else:
        archive = root / "repacked.tar"
        with tarfile.open(archive, mode) as tar:
            for name, data in [(HEADER, _header_bytes(hostile)), *hostile.members.items()]:
                tar.addfile(_info(name, size=len(data)), io.BytesIO(data))
            tar.addfile(_info("run", tarfile.DIRTYPE))  # a top directory, as `tar c` adds
    store = FileStore(root / "elsewhere")
    imported = import_archive(archive, store, SMALL)
    assert imported.outcome == "imported"
    assert (
        store.get_run(imported.run_id).artifacts
        == json.loads(hostile.members["run/run.json"])["artifacts"]
    )


# ------------------------------------------------------------------------ stored records


def _plant(store: Path, outside: Path, how: str) -> str:
    """Alter run 2 of the file store `store` so that it names outside/secret.txt; return the
    field the refusal must name."""
    run_dir = store / "2"
    entry = json.loads((run_dir / "run.json").read_text())
    if how == "artifact":
        entry["artifacts"].append("../../outside/secret.txt")
        field = "run 2: run.json artifact '../../outside/secret.txt' has a '..' part"
    elif how == "artifact-link":
        (run_dir / "code.diff").unlink()
        (run_dir / "code.diff").symlink_to(outside / "secret.txt")
        field = "run 2: run.json artifact 'code.diff' is a link to"
    elif how == "source":
        name = entry["experiment"]["sources"][0][0]
        entry["experiment"]["sources"][0][1] = "../outside/secret.txt"
        field = f"run 2: run.json source {name!r} stored as '../outside/secret.txt' has a '..'"
    else:
        entry["resources"] = [["manifest.json", str(outside / "secret.txt")]]
        field = "run 2: run.json resource 'manifest.json' stored as "
    (run_dir / "run.json").write_text(json.dumps(entry))
    return field


@pytest.mark.parametrize("how", ["artifact", "artifact-link", "source", "resource"])
def test_an_altered_file_store_record_makes_push_export_show_read_nothing_outside(
    store_copy, tmp_path, mongo_db, cli, no_mongo_env, how
):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    field = _plant(store_copy, outside, how)
    url, db = mongo_db
    tree = _tree(tmp_path)
    for args in (
        ("push", store_copy, "--mongo", url),
        ("--store", store_copy, "export", "2", "-o", tmp_path / "run-2.tar.gz"),
        ("--store", store_copy, "show", "2"),
    ):
        code, out, err = cli(*args)
        assert code == 2 and len(err.splitlines()) == 1, (args, out, err)
        assert field in err, (args, err)
        assert out == ""
    assert _tree(tmp_path) == tree  # no archive written
    assert _database(db) == {}  # push refused before connecting
    # A clean run of the same store is still shown and exported.
    assert cli("--store", store_copy, "show", "1")[0] == 0


def test_an_altered_mongo_record_is_refused_by_export_and_show(
    base, sandbox, mongo_db, cli, no_mongo_env
):
    root, outside, _ = sandbox
    store = _mongo_target(mongo_db, sandbox)
    url, db = mongo_db
    db.runs.update_one({"_id": 1}, {"$set": {"artifacts.0.name": "../../outside/secret.txt"}})
    tree = _tree(root)
    for args in (("export", "1", "-o", root / "run-1.tar.gz"), ("show", "1")):
        code, out, err = cli("--mongo", url, *args)
        assert code == 2 and out == "" and len(err.splitlines()) == 1, err
        assert "run 1: document artifact '../../outside/secret.txt' has a '..' part" in err, err
    assert _tree(root) == tree
    assert store.get_run("1").artifacts[0] == "../../outside/secret.txt"


def test_read_artifact_reads_only_inside_the_run(store_copy, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(SECRET)
    _plant(store_copy, outside, "artifact")
    store = FileStore(store_copy)
    run = store.get_run("2")
    with pytest.raises(ReproMLError, match="artifact '../../outside/secret.txt' has a '..' part"):
        store.read_artifact(run, "../../outside/secret.txt")
    assert store.read_artifact(run, "code.diff")  # a plain name still reads


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("run/run.json", None),
        ("artifacts/saved_model.zip", None),
        ("source-reproml%2Fmodels%2Fx.py", None),
        ("", "is empty"),
        ("/etc/passwd", "is absolute"),
        ("../x", "has a '..' part"),
        ("a/../../x", "has a '..' part"),
        ("a/./x", "has a '.' part"),
        ("a//x", "has an empty part"),
        ("a/", "has an empty part"),
        ("..\\x", "holds a backslash"),
        ("C:x", "starts with a drive letter"),
        ("a\x00b", "holds a NUL byte"),
        ("a\nb", "holds a control character"),
        (7, "is a int, not a string"),
        (None, "is a NoneType, not a string"),
    ],
)
def test_name_problem(name, problem):
    assert name_problem(name) == problem


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        ("/elsewhere/runs/_resources/manifest_0a1b.json", None),  # the store was moved: by name
        ("runs/_resources/manifest_0a1b.json", None),  # Sacred ran with a relative store
        ("/home/me/.ssh/id_ed25519", "is not in _resources"),
        ("_resources/../../secret.txt", "is not in _resources"),
        ("/x/_resources/..", "is not in _resources"),
        (7, "is not a plain path"),
    ],
)
def test_a_stored_resource_is_read_from_this_store_only(tmp_path, stored, problem):
    (tmp_path / "_resources").mkdir()
    if problem is None:
        path = stored_resource(tmp_path, stored, "resource stored as")
        assert path == tmp_path / "_resources" / "manifest_0a1b.json"
    else:
        with pytest.raises(UnsafeNameError, match=f"resource stored as .* {problem}"):
            stored_resource(tmp_path, stored, "resource stored as")


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        ("_sources/toy_0a1b.py", None),
        ("../outside/secret.txt", "has a '..' part"),
        ("/etc/passwd", "is absolute"),
        ("1/code.diff", "is not in _sources"),
        ("_sources/a/b.py", "is not in _sources"),
    ],
)
def test_a_stored_source_is_read_from_this_store_only(tmp_path, stored, problem):
    if problem is None:
        assert stored_source(tmp_path, stored, "source") == tmp_path / stored
    else:
        with pytest.raises(UnsafeNameError, match=f"source '.*' {problem}"):
            stored_source(tmp_path, stored, "source")
