"""Act on a reviewed report: re-check every file, then trash, move or link the duplicates,
journaled.

Stages, one module each, data flowing one way (each imports only the ones before it):
  plan.py       `validate(report)` -> `build_plan(report, action)`: the files to remove, by
                unit, and where they go (no file touched)
  check.py      one file compared with what the report recorded (`check`, `still_there`)
  transfer.py   one checked file given a new name, never replacing anything (`transfer`)
  restore.py    one journaled file put back where it was (for undo and a unit rolled back)
  reconcile.py  what a crash left between "intent" and "done", settled by looking at the disk
  session.py    `open_session(plan)`: lock the report and every drive it touches, start a
                journal or resume (and reconcile) the interrupted one
  act.py        `execute(plan, session)` (or `preview(plan)` for a dry run): check, then act
  undo.py       `find_journal` -> `open_undo(state)` -> `undo(state, session)`: put back the
                files of a journal
This package re-exports the names callers use (`from dedupe import apply`; `apply.build_plan`).
The test seam between check and action is `dedupe.apply.act.before_action`.

What is checked, right before each group is acted on:
  * every kept file: its folder is reached from the scanned folder with no symbolic link on the
    way (fsops.open_folder), it is a regular file (opened with O_NOFOLLOW), and on that open
    descriptor it has the size, mtime_ns and sha256 content digest the report recorded. If one
    is missing or changed, the whole group is left alone.
  * every file to remove: the same checks; if it fails, that file is left alone.
  * it is not a hard link of a kept file (same device and inode now, or listed among the kept
    file's hard links at scan time): removing such a name frees nothing.
  * right before each removal, under the drive locks, the verified kept files are looked at again
    (same inode, size, mtime_ns, reached the same way): if none is left in place, nothing more
    of that group is removed.
  * the action itself acts on the checked file, not on whatever is at its path by then: it is
    made relative to the descriptor of the file's folder (the same folder object that was
    checked), the new name is a hard link whose device and inode are compared with the checked
    ones before the old name goes (fsops.place), so a file swapped in, or written to, since its
    check is left in place and reported.
Every file that is not acted on gets a reason (`Skip`). A failed action (read-only folder or
trash, immutable file, full disk) is a skip with its reason too; the rest of the plan goes on.
`--link` replaces a duplicate by a link to a byte-identical kept copy instead (linking.py): the
same checks, then the steps and crash states that module describes.
The core never prints.
"""

from dedupe.apply.act import ApplyResult, Outcome, Skip, execute, preview
from dedupe.apply.check import Seen, check, file_digest, still_there
from dedupe.apply.plan import (
    Kind,
    Plan,
    PlannedGroup,
    Removal,
    anchor_of,
    build_plan,
    companion_record,
    kept_companions,
    move_target,
    units_of,
    validate,
)
from dedupe.apply.reconcile import reconcile
from dedupe.apply.restore import Restored
from dedupe.apply.session import Session, drive_locks, open_session, previously_done
from dedupe.apply.transfer import partial_path, transfer
from dedupe.apply.undo import (
    Found,
    UndoResult,
    UndoSession,
    find_journal,
    open_undo,
    tidy_move_folders,
    undo,
)
from dedupe.errors import Refused
from dedupe.fsops import PARTIAL_SUFFIX, TargetExists

__all__ = [
    "PARTIAL_SUFFIX",
    "ApplyResult",
    "Found",
    "Kind",
    "Outcome",
    "Plan",
    "PlannedGroup",
    "Refused",
    "Removal",
    "Restored",
    "Seen",
    "Session",
    "Skip",
    "TargetExists",
    "UndoResult",
    "UndoSession",
    "anchor_of",
    "build_plan",
    "check",
    "companion_record",
    "drive_locks",
    "execute",
    "file_digest",
    "find_journal",
    "kept_companions",
    "move_target",
    "open_session",
    "open_undo",
    "partial_path",
    "preview",
    "previously_done",
    "reconcile",
    "still_there",
    "tidy_move_folders",
    "transfer",
    "undo",
    "units_of",
    "validate",
]
