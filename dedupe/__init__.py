"""dedupe: find duplicate and near-duplicate photos, review them, and clean them up safely.

The Python API (dedupe/api.py; README "Python API"), for example:

    report = dedupe.scan_folders(Path.home() / "Pictures")  # -> Report: groups, errors, ...
    dedupe.write_report(report, "dedupe-report.json")
    plan = dedupe.make_plan("dedupe-report.json", "trash")
    result = dedupe.apply_plan(plan)              # -> ApplyResult; dedupe.undo_apply() undoes it

The calls (each is a command's work; help(dedupe.scan_folders) and so on say more):

    scan_folders(roots, ...) -> Report            hash every image, group copies (`dedupe scan`)
    hash_file(path) -> ImageRecord                one image's hash (`dedupe hash`)
    compare_files(a, b) -> Comparison             two images' distances, verdict (`compare`)
    rank_similar(query, roots) -> tuple[Similar]  the images closest to one (`similar`)
    read_report, write_report, write_html         a report from or to a file; its HTML pages
    regroup_report(report, threshold=...)         new groups, nothing decoded (`review`)
    make_plan(report, action) -> Plan             what an apply would do, nothing touched
    apply_plan(plan) -> ApplyResult               check again, act, journal (`dedupe apply`)
    start_apply(plan) -> Applying                 the same in two steps: lock, then run()
    find_journal(), undo_apply() -> UndoResult    put an apply's files back (`dedupe undo`)

Progress goes to the `progress` object passed (start(description, total), advance(count)),
problems that do not stop the work to `warn(message)` (else Python's warnings), and every
error raised for a caller is a DedupeError (UsageError, ImageError, Refused, ReportError,
IndexProblem, JournalError). The library never prints.

Importing the package imports nothing else: each name below is loaded from its module when it
is first used, so `import dedupe` (and the command line, which starts with it) stays fast.
"""

__version__ = "0.1.0"

# name -> the module that defines it
_EXPORTS = {
    # the calls (dedupe/api.py)
    "scan_folders": "dedupe.api",
    "hash_file": "dedupe.api",
    "compare_files": "dedupe.api",
    "rank_similar": "dedupe.api",
    "read_report": "dedupe.api",
    "write_report": "dedupe.api",
    "write_html": "dedupe.api",
    "regroup_report": "dedupe.api",
    "start_regroup": "dedupe.api",
    "make_plan": "dedupe.api",
    "start_apply": "dedupe.api",
    "apply_plan": "dedupe.api",
    "find_journal": "dedupe.api",
    "undo_apply": "dedupe.api",
    # what they take and return
    "Applying": "dedupe.api",
    "Comparison": "dedupe.api",
    "HashDistance": "dedupe.api",
    "Regrouped": "dedupe.api",
    "Regrouping": "dedupe.api",
    "Similar": "dedupe.api",
    "Written": "dedupe.html_report",
    "Settings": "dedupe.models",
    "KeepRules": "dedupe.models",
    "Selection": "dedupe.models",
    "ImageRecord": "dedupe.models",
    "Fingerprint": "dedupe.models",
    "Group": "dedupe.models",
    "Member": "dedupe.models",
    "Problem": "dedupe.models",
    "FileFacts": "dedupe.models",
    "ImageHash": "dedupe.hashing",
    "Report": "dedupe.report",
    "Changes": "dedupe.regroup",
    "PairCheck": "dedupe.cluster",
    "Plan": "dedupe.apply",
    "ApplyResult": "dedupe.apply",
    "UndoResult": "dedupe.apply",
    "Found": "dedupe.apply",
    "Progress": "dedupe.scan",
    # errors (dedupe/errors.py)
    "DedupeError": "dedupe.errors",
    "UsageError": "dedupe.errors",
    "ImageError": "dedupe.errors",
    "Refused": "dedupe.errors",
    "DedupeWarning": "dedupe.errors",
    "ReportError": "dedupe.report",
    "IndexProblem": "dedupe.index",
    "JournalError": "dedupe.journal",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    """Load an exported name from its module on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'dedupe' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


TYPE_CHECKING = False  # typing is not imported for this (it costs a few milliseconds)
if TYPE_CHECKING:
    from dedupe.api import Applying as Applying
    from dedupe.api import Comparison as Comparison
    from dedupe.api import HashDistance as HashDistance
    from dedupe.api import Regrouped as Regrouped
    from dedupe.api import Regrouping as Regrouping
    from dedupe.api import Similar as Similar
    from dedupe.api import apply_plan as apply_plan
    from dedupe.api import compare_files as compare_files
    from dedupe.api import find_journal as find_journal
    from dedupe.api import hash_file as hash_file
    from dedupe.api import make_plan as make_plan
    from dedupe.api import rank_similar as rank_similar
    from dedupe.api import read_report as read_report
    from dedupe.api import regroup_report as regroup_report
    from dedupe.api import scan_folders as scan_folders
    from dedupe.api import start_apply as start_apply
    from dedupe.api import start_regroup as start_regroup
    from dedupe.api import undo_apply as undo_apply
    from dedupe.api import write_html as write_html
    from dedupe.api import write_report as write_report
    from dedupe.apply import ApplyResult as ApplyResult
    from dedupe.apply import Found as Found
    from dedupe.apply import Plan as Plan
    from dedupe.apply import UndoResult as UndoResult
    from dedupe.cluster import PairCheck as PairCheck
    from dedupe.errors import DedupeError as DedupeError
    from dedupe.errors import DedupeWarning as DedupeWarning
    from dedupe.errors import ImageError as ImageError
    from dedupe.errors import Refused as Refused
    from dedupe.errors import UsageError as UsageError
    from dedupe.hashing import ImageHash as ImageHash
    from dedupe.html_report import Written as Written
    from dedupe.index import IndexProblem as IndexProblem
    from dedupe.journal import JournalError as JournalError
    from dedupe.models import FileFacts as FileFacts
    from dedupe.models import Fingerprint as Fingerprint
    from dedupe.models import Group as Group
    from dedupe.models import ImageRecord as ImageRecord
    from dedupe.models import KeepRules as KeepRules
    from dedupe.models import Member as Member
    from dedupe.models import Problem as Problem
    from dedupe.models import Selection as Selection
    from dedupe.models import Settings as Settings
    from dedupe.regroup import Changes as Changes
    from dedupe.report import Report as Report
    from dedupe.report import ReportError as ReportError
    from dedupe.scan import Progress as Progress
