"""`dedupe apply`: re-checks before acting, trash and move, refusals, journal, lock, exit codes.

Everything is real: generated images, a real scan, send2trash into the test's own
XDG_DATA_HOME (HOME is pointed at the same temporary file system, so send2trash picks the home
trash and not a `.Trash-UID` folder at the top of the file system).
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from apply_helpers import (
    MTIME,
    apply,
    done_paths,
    journals,
    keepers,
    library,
    load,
    png,
    put,
    records,
    scan_library,
    scanned,
    sha,
    trash_dir,
    trash_infos,
    trash_members,
    trashed_file,
    trashed_files,
    tree,
)
from conftest import Cli

from dedupe import apply as core
from dedupe import journal, trash
from dedupe import report as report_mod
from dedupe.cli import ExitCode, main
from dedupe.cli.ui import human_bytes
from dedupe.scan import NoProgress, Progress

pytestmark = pytest.mark.usefixtures("home_on_tmp", "wide_terminal")


def execute(
    report: Path,
    progress: Progress,
    kind: core.Kind = "trash",
    move_to: str | None = None,
    *,
    force_copy: bool = False,
) -> core.ApplyResult:
    """Apply the report through the library, in a journaled session, reporting to `progress`
    (how a test interrupts it or acts between two steps)."""
    plan = core.build_plan(report_mod.read(report), str(report), kind, move_to)
    session = core.open_session(plan)
    try:
        return core.execute(plan, session, progress, force_copy=force_copy)
    finally:
        session.close()


# ---------------------------------------------------------------- the happy paths


def test_dry_run_lists_what_would_happen_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path)
    before = tree(root)
    code, out, err = cli("apply", "--report", str(report))
    assert code == ExitCode.OK
    lines = out.splitlines()
    removals = trash_members(report)
    assert len(removals) == 4
    assert sorted(lines) == sorted(f"remove\t{f['path']}\t{f['size']}" for f in removals)
    freed = sum(f["size"] for f in removals)
    assert f"would remove 4 files, freeing {human_bytes(freed)}; 0 would be skipped" in err
    assert "Nothing was changed" in err
    assert tree(root) == before
    assert journals() == [] and not trash_dir().exists()


def test_trash_sends_duplicates_to_the_xdg_trash_and_journals_them(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path)
    removals = trash_members(report)
    code, out, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.OK, err
    assert out == ""
    assert "Trashed 4 files" in err and "0 skipped" in err
    for f in removals:
        assert not os.path.lexists(f["path"])
        name = os.path.basename(f["path"])
        info = trash_infos(f["path"])
        assert len(info) == 1, f"one .trashinfo for {f['path']}"
        trashed = trashed_file(info[0])
        assert trashed.name.startswith(name.removesuffix(".png"))
        assert sha(trashed) == f["digest"]
        assert "DeletionDate=" in info[0].read_text()
    for kept in keepers(report) + [str(root / "single.png")]:
        assert os.path.isfile(kept)
    (path,) = journals()
    lines = records(path)
    assert lines[0]["type"] == "apply" and lines[0]["action"] == "trash"
    assert lines[0]["report"] == str(report)
    intents = [r for r in lines if r["type"] == "intent"]
    dones = {r["seq"]: r for r in lines if r["type"] == "done"}
    assert sorted(r["path"] for r in intents) == sorted(f["path"] for f in removals)
    for intent in intents:
        done = dones[intent["seq"]]
        assert lines.index(intent) < lines.index(done)
        assert sha(done["destination"]) == intent["digest"]
        assert intent["size"] == os.path.getsize(done["destination"])
    assert lines[-1]["type"] == "end" and lines[-1]["status"] == "finished"


def test_move_keeps_relative_paths_and_never_overwrites(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path)
    removals = trash_members(report)
    dest = tmp_path / "dupes"
    blocked = dest / os.path.relpath(removals[0]["path"], root)
    put(blocked, b"someone else's file")
    code, _, err = cli("apply", "--report", str(report), "--move", str(dest), "--yes")
    assert code == ExitCode.PARTIAL
    assert blocked.read_bytes() == b"someone else's file"
    assert os.path.isfile(removals[0]["path"])
    assert "already exists; nothing is overwritten" in err
    for f in removals[1:]:
        target = dest / os.path.relpath(f["path"], root)
        assert sha(target) == f["digest"]
        assert target.stat().st_mtime_ns == f["mtime_ns"]
        assert not os.path.lexists(f["path"])


def test_move_across_devices_copies_verifies_and_deletes(tmp_path: Path) -> None:
    root, report = library(tmp_path, groups=1, copies=2)
    (removal,) = trash_members(report)
    result = execute(report, NoProgress(), "move", str(tmp_path / "out"), force_copy=True)
    assert [o.path for o in result.done] == [removal["path"]] and not result.skipped
    target = tmp_path / "out" / os.path.relpath(removal["path"], root)
    assert sha(target) == removal["digest"] and target.stat().st_mtime_ns == removal["mtime_ns"]
    assert not os.path.lexists(removal["path"])
    assert not any(p.name.endswith(core.PARTIAL_SUFFIX) for p in target.parent.iterdir())


def test_move_to_a_real_other_device(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no writable /dev/shm")
    if shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("/dev/shm is on the same device as the temporary folder")
    root, report = library(tmp_path, groups=1, copies=2)
    (removal,) = trash_members(report)
    dest = shm / f"dedupe-test-{os.getpid()}-{tmp_path.name}"
    try:
        assert apply(report, "--move", str(dest)) == 0
        target = dest / os.path.relpath(removal["path"], root)
        assert sha(target) == removal["digest"]
        assert not os.path.lexists(removal["path"])
        assert main(["undo"]) == 0
        assert sha(removal["path"]) == removal["digest"]
        assert os.stat(removal["path"]).st_mtime_ns == removal["mtime_ns"]
    finally:
        import shutil

        shutil.rmtree(dest, ignore_errors=True)


def test_nothing_to_do(cli: Cli, tmp_path: Path) -> None:
    root = tmp_path / "photos"
    put(root / "a.png", png(1))
    report = scanned(root)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.OK and "Nothing to do" in err


# ---------------------------------------------------------------- re-checks before acting


def _flip_byte_keep_size_and_time(path: str) -> None:
    info = os.stat(path)
    data = bytearray(Path(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(path).write_bytes(bytes(data))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def test_changed_kept_file_leaves_the_whole_group_alone(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    groups = load(report)["groups"]
    keeper = next(f["path"] for f in groups[0]["files"] if f["action"] == "keep")
    _flip_byte_keep_size_and_time(keeper)  # same size, same mtime: only the digest tells
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL
    for f in groups[0]["files"]:
        assert os.path.isfile(f["path"])
    for f in groups[1]["files"]:
        assert os.path.exists(f["path"]) == (f["action"] == "keep")
    assert "the whole group is left alone" in err and "different content" in err


@pytest.mark.parametrize("change", ["content", "touch", "grow", "delete", "symlink"])
def test_changed_duplicate_is_skipped_with_its_reason(
    cli: Cli, tmp_path: Path, change: str
) -> None:
    root, report = library(tmp_path, groups=1, copies=3)
    victim, other = (f["path"] for f in trash_members(report))
    if change == "content":
        _flip_byte_keep_size_and_time(victim)
    elif change == "touch":
        os.utime(victim, ns=(MTIME + 10**9, MTIME + 10**9))
    elif change == "grow":
        with open(victim, "ab") as handle:
            handle.write(b"\0")
    elif change == "delete":
        os.unlink(victim)
    else:
        os.unlink(victim)
        os.symlink(keepers(report)[0], victim)
    after = tree(root)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL
    reason = {
        "content": "different content",
        "touch": "modification time differs",
        "grow": "size",
        "delete": "is missing",
        "symlink": "is a symbolic link now",
    }[change]
    assert reason in err
    if change != "delete":
        assert tree(root)[victim] == after[victim]  # left exactly as it was
    assert not os.path.lexists(other)
    (path,) = journals()
    skips = [r for r in records(path) if r["type"] == "skip"]
    assert [s["path"] for s in skips] == [victim] and reason in skips[0]["reason"]


def test_hard_link_of_the_kept_file_is_never_removed(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=1, copies=3)
    (keeper,) = keepers(report)
    victim, other = (f["path"] for f in trash_members(report))
    os.unlink(victim)
    os.link(keeper, victim)  # same bytes, same mtime: passes every check but the inode one
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL
    assert os.path.samefile(victim, keeper)
    assert "hard link of the kept copy" in err
    assert not os.path.lexists(other)


def test_hard_links_found_by_the_scan_stay(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    first = put(root / "a.png", png(5))
    os.link(first, root / "b.png")  # the scan collapses these: one image with a hardlink
    put(root / "c.png", png(5))
    report = scanned(root)
    (group,) = load(report)["groups"]
    assert len(group["files"]) == 2
    assert apply(report, "--trash") == ExitCode.OK
    assert (root / "a.png").exists() and (root / "b.png").exists()
    assert len(trashed_files()) == 1


def test_never_removes_the_last_copy_when_the_keeper_vanishes_mid_apply(tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=1, copies=4)
    (keeper,) = keepers(report)

    class DeleteKeeperAfterFirstRemoval:
        def __init__(self) -> None:
            self.count = 0

        def start(self, description: str, total: int | None) -> None:
            pass

        def advance(self, count: int = 1) -> None:
            self.count += count
            if self.count == 2:  # the keeper was checked and one duplicate trashed
                os.unlink(keeper)

    result = execute(report, DeleteKeeperAfterFirstRemoval())
    assert len(result.done) == 1 and len(result.skipped) == 2
    assert all("no verified kept copy" in s.reason for s in result.skipped)
    for skip in result.skipped:
        assert sha(skip.path) == load(report)["groups"][0]["files"][0]["digest"]


# ---------------------------------------------------------------- refusals


def _tamper(report: Path, how: str) -> str:
    data = load(report)
    group = data["groups"][0]
    if how == "schema":
        data["schema_version"] = 99
        expect = "unsupported report schema version 99"
    elif how == "outside":
        old = group["files"][1]["path"]
        new = "/etc/" + os.path.basename(old)
        group["files"][1]["path"] = new
        for image in data.get("images", ()):  # (a schema-2 report)
            if image["path"] == old:
                image["path"] = new
        expect = f"{new} is outside the scanned folders"
    elif how == "all-trash":
        for f in group["files"]:
            f["action"] = "trash"
        expect = f"group {group['id']} marks every file for trash"
    elif how == "twice":
        group["files"][2]["path"] = group["files"][1]["path"]
        group["files"][2]["image"] = group["files"][1]["image"]  # the same file, twice
        expect = f"{group['files'][1]['path']} appears more than once"
    elif how == "not-json":
        report.write_text('{"schema_version": 1, "groups": [')
        return "is not valid JSON"
    else:
        group["files"][0]["action"] = "delete"
        expect = "action must be 'keep' or 'trash'"
    report.write_text(json.dumps(data))
    return expect


@pytest.mark.parametrize("how", ["schema", "outside", "all-trash", "twice", "not-json", "action"])
def test_tampered_reports_are_refused_with_a_clear_message(
    cli: Cli, tmp_path: Path, how: str
) -> None:
    root, report = library(tmp_path)
    expect = _tamper(report, how)
    before = tree(root)
    for argv in (["--trash", "--yes"], ["--dry-run", "--trash"], []):
        code, out, err = cli("apply", "--report", str(report), *argv)
        assert code == ExitCode.REFUSED and int(code) == 4
        assert "refusing to apply" in err and expect in err
        assert out == ""
    assert tree(root) == before and journals() == []


def test_missing_report_is_refused(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("apply", "--report", str(tmp_path / "nope.json"), "--trash")
    assert code == ExitCode.REFUSED and "run `dedupe scan DIR` first" in err


def test_refuses_without_yes_when_stdin_is_not_a_terminal(cli: Cli, tmp_path: Path) -> None:
    root, report = library(tmp_path)
    before = tree(root)
    code, _, err = cli("apply", "--report", str(report), "--trash")
    assert code == ExitCode.REFUSED
    assert "without confirmation" in err and "--yes" in err
    assert tree(root) == before and journals() == []


def test_trash_and_move_are_exclusive(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("apply", "--trash", "--move", str(tmp_path))
    assert code == ExitCode.USAGE and "not allowed with" in err


def test_a_second_apply_of_the_same_report_refuses_while_the_first_runs(
    cli: Cli, tmp_path: Path
) -> None:
    root, report = library(tmp_path)
    before = tree(root)
    with journal.report_lock(str(report)):  # what a running apply holds
        code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.REFUSED
    assert "another dedupe is already working on the report" in err
    assert tree(root) == before
    assert apply(report, "--trash") == ExitCode.OK


# ---------------------------------------------------------------- resuming


class InterruptAfter:
    """A progress sink that raises KeyboardInterrupt (as Ctrl-C would) after N steps."""

    def __init__(self, steps: int) -> None:
        self.steps = steps

    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, count: int = 1) -> None:
        self.steps -= count
        if self.steps <= 0:
            raise KeyboardInterrupt


def test_interrupted_apply_is_resumed_by_running_it_again(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path, groups=3, copies=3)
    removals = trash_members(report)
    first = execute(report, InterruptAfter(5))
    assert first.interrupted and 0 < len(first.done) < len(removals)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.OK, err
    assert "Resuming the interrupted apply" in err
    assert f"(+{len(first.done)} by the interrupted run)" in err
    (path,) = journals()  # the same journal, appended to
    assert done_paths(path) == sorted(f["path"] for f in removals)  # each exactly once
    assert len(trashed_files()) == len(removals)


def test_ctrl_c_during_an_action_lets_it_finish_and_stops_before_the_next(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _root, report = library(tmp_path, groups=2, copies=3)
    real_send = trash.send
    sent: list[str] = []

    def send_then_ctrl_c(*args: Any) -> Any:  # Ctrl-C arrives while the file is being trashed
        sent.append(args)
        if len(sent) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real_send(*args)

    # Another thread, like the progress bar's, that the kernel may hand the signal to.
    stop = threading.Event()
    idle = threading.Thread(target=stop.wait)
    idle.start()
    monkeypatch.setattr(trash, "send", send_then_ctrl_c)
    try:
        code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    finally:
        stop.set()
        idle.join()
    assert code == ExitCode.INTERRUPTED
    assert "Trashed 2 files" in err and "Run the same command again" in err
    (path,) = journals()
    lines = records(path)
    intents = [r for r in lines if r["type"] == "intent"]
    assert len(intents) == 2  # the second action completed, no third one started
    assert all(any(d["type"] == "done" and d["seq"] == i["seq"] for d in lines) for i in intents)
    assert not any(r["type"] == "end" for r in lines)
    monkeypatch.setattr(trash, "send", real_send)
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.OK and "Trashed 2 files (+2 by the interrupted run)" in err


def test_resume_with_another_action_is_refused(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    execute(report, InterruptAfter(2))
    code, _, err = cli("apply", "--report", str(report), "--move", str(tmp_path / "d"), "--yes")
    assert code == ExitCode.REFUSED
    assert "an interrupted apply of this report (--trash) is not finished" in err


def test_dry_run_after_an_interruption_shows_what_is_already_done(cli: Cli, tmp_path: Path) -> None:
    _root, report = library(tmp_path)
    first = execute(report, InterruptAfter(2))
    code, out, _ = cli("apply", "--report", str(report), "--trash", "--dry-run")
    assert code == ExitCode.OK
    done_lines = [line for line in out.splitlines() if line.startswith("done\t")]
    assert len(done_lines) == len(first.done) > 0


# ---------------------------------------------------------------- randomized trials

MUTATIONS = (
    "content",  # one byte flipped, size and mtime kept
    "append",
    "touch",
    "delete",
    "replace",  # other picture
    "same-bytes-new-mtime",
    "same-bytes-same-mtime",  # cp -p: nothing that matters changed
    "hardlink-to-keeper",
    "symlink-to-keeper",
)


@pytest.mark.parametrize("seed", range(100))
def test_random_trials_never_trash_a_changed_file_nor_a_last_copy(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    root = tmp_path / "photos"
    pictures = rng.sample(range(200, 216), 6)
    for g in range(rng.randint(1, 4)):
        mtime = MTIME + rng.choice((0, g * 10**9))
        for c in range(rng.randint(2, 4)):
            jitter = rng.choice((0, 0, 0, c * 1000))  # mostly identical mtimes
            folder = rng.choice(("", "a", "b/c"))
            put(root / folder / f"g{g}-c{c}.png", png(pictures[g]), mtime + jitter)
    put(root / "lonely.png", png(pictures[5]))
    report = tmp_path / "r.json"
    scan_library(root, report)
    data = load(report)
    members = {f["path"]: f for g in data["groups"] for f in g["files"]}
    kept = {
        g["id"]: [f["path"] for f in g["files"] if f["action"] == "keep"] for g in data["groups"]
    }

    changed: set[str] = set()  # paths whose file no longer matches the report
    for group in data["groups"]:
        for f in group["files"]:
            if rng.random() > 0.3:
                continue
            path, how = f["path"], rng.choice(MUTATIONS)
            if how == "content":
                _flip_byte_keep_size_and_time(path)
            elif how == "append":
                with open(path, "ab") as handle:
                    handle.write(b"x")
            elif how == "touch":
                os.utime(path, ns=(f["mtime_ns"] + 1, f["mtime_ns"] + 1))
            elif how == "delete":
                os.unlink(path)
            elif how == "replace":
                os.unlink(path)
                put(Path(path), png(pictures[4]), f["mtime_ns"])
            elif how in ("same-bytes-new-mtime", "same-bytes-same-mtime"):
                data_bytes = Path(path).read_bytes()
                os.unlink(path)
                new = f["mtime_ns"] + (10**9 if how == "same-bytes-new-mtime" else 0)
                put(Path(path), data_bytes, new)
                if how == "same-bytes-same-mtime":
                    continue  # not a change: it may be trashed
            elif how in ("hardlink-to-keeper", "symlink-to-keeper"):
                keeper = kept[group["id"]][0]
                if keeper == path or not os.path.lexists(keeper) or os.path.islink(keeper):
                    continue
                os.unlink(path)
                if how == "hardlink-to-keeper":
                    os.link(keeper, path)
                    # Content, size and mtime may all still match: only the inode rule stops it.
                    if (sha(path), os.stat(path).st_mtime_ns) == (f["digest"], f["mtime_ns"]):
                        continue
                else:
                    os.symlink(keeper, path)
            changed.add(path)
    hardlinked = {
        p
        for p in members
        if not os.path.islink(p)
        and os.path.exists(p)
        and any(
            k != p and os.path.exists(k) and os.path.samefile(p, k)
            for g in data["groups"]
            for k in kept[g["id"]]
        )
    }
    after_mutation = tree(root)

    code = apply(report, "--trash")

    (jpath,) = journals()
    lines = records(jpath)
    intents = {r["seq"]: r for r in lines if r["type"] == "intent"}
    trashed = {intents[r["seq"]]["path"]: r for r in lines if r["type"] == "done"}
    skips = {r["path"]: r["reason"] for r in lines if r["type"] == "skip"}
    assert code == (ExitCode.PARTIAL if skips else ExitCode.OK)
    assert all(reason.strip() for reason in skips.values()), "every skip has a reason"
    for group in data["groups"]:
        gid = group["id"]
        intact_keepers = [k for k in kept[gid] if k not in changed and os.path.isfile(k)]
        for f in group["files"]:
            path = f["path"]
            if f["action"] == "keep":
                assert path not in trashed
                continue
            # Every file marked trash is accounted for: trashed, or skipped with a reason.
            assert (path in trashed) != (path in skips), path
            if path in changed or path in hardlinked or not intact_keepers:
                assert path not in trashed, f"seed {seed}: {path} must not be trashed"
                if os.path.lexists(path):
                    assert tree(root)[path] == after_mutation[path]
            else:
                assert path in trashed, f"seed {seed}: {path} should have been trashed"
        for path in (f["path"] for f in group["files"] if f["path"] in trashed):
            destination = trashed[path]["destination"]
            assert sha(destination) == members[path]["digest"]  # the file that was checked
        if any(f["path"] in trashed for f in group["files"]):
            # The group still has a verified copy in place: it never lost its last one.
            assert any(sha(k) == members[k]["digest"] for k in intact_keepers)
    assert (
        not os.path.lexists(root / "lonely.png")
        or tree(root)[str(root / "lonely.png")] == (after_mutation[str(root / "lonely.png")])
    )
    # Everything left untouched is exactly as it was, and undo restores the rest.
    now = tree(root)
    assert {p: v for p, v in after_mutation.items() if p not in trashed} == now
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == after_mutation


def test_a_journal_line_torn_by_a_crash_is_cut_off_and_the_apply_resumes(
    cli: Cli, tmp_path: Path
) -> None:
    _root, report = library(tmp_path)
    execute(report, InterruptAfter(2))
    (path,) = journals()
    with open(path, "ab") as handle:
        handle.write(b'{"type":"intent","seq":99,"path":"/x')  # what a power cut can leave
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.OK, err
    lines = records(path)  # every line parses again
    assert all(r.get("seq") != 99 for r in lines)
    assert len(trashed_files()) == len(trash_members(report))


def test_file_names_that_are_not_utf8_are_trashed_and_restored(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    put(root / "a.png", png(3))
    odd = os.path.join(os.fsencode(root), b"caf\xe9 copy.png")  # Latin-1, not UTF-8
    with open(odd, "wb") as handle:
        handle.write(png(3))
    os.utime(odd, ns=(MTIME, MTIME))
    report = scanned(root)
    before = tree(root)
    (removal,) = trash_members(report)
    assert os.fsencode(removal["path"]) == odd
    assert apply(report, "--trash") == ExitCode.OK
    assert not os.path.lexists(odd)
    (info,) = trash_infos()
    assert "caf%E9%20copy.png" in info.read_text()
    assert main(["undo"]) == ExitCode.OK
    assert tree(root) == before


def test_a_file_listed_as_a_hard_link_of_the_keeper_is_never_removed(
    cli: Cli, tmp_path: Path
) -> None:
    _root, report = library(tmp_path, groups=1, copies=3)
    data = load(report)
    (keeper,) = keepers(report)
    victim, other = (f["path"] for f in trash_members(report))
    for f in data["groups"][0]["files"]:
        if f["path"] == keeper:
            f["hardlinks"] = [victim]  # what the scan recorded, whatever the disk says now
    report.write_text(json.dumps(data))
    code, _, err = cli("apply", "--report", str(report), "--trash", "--yes")
    assert code == ExitCode.PARTIAL
    assert f"{victim}: it is a hard link of the kept copy {keeper}" in err
    assert os.path.isfile(victim) and not os.path.lexists(other)
