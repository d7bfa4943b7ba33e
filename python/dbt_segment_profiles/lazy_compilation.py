"""dbt's config classes compiled on first use, for the command-line process.

dbt's contracts are mashumaro dataclasses, and mashumaro writes and compiles each class's
`from_dict` and `to_dict` when the class is defined: about 650 classes on every command, most of
which a sync never reads or writes (the manifest's nodes, the run results, the semantic layer).
mashumaro's own `lazy_compilation` option defers that to a class's first use, with the same code
then. Importing dbt and dbt-duckdb took 0.6-0.9 s less CPU; a whole command less, as the classes
it reads are compiled on first use (medians of alternations with the commit before on one
project: a nothing-pending sync 3.52 against 4.43 s over ten, 3.40 against 3.79 over six;
`plan` 3.62 against 3.73 over ten). Only the `dbt-segment` process does this, before dbt is
imported: a process that imports the runner keeps mashumaro's settings as it has them.
"""

from __future__ import annotations

import sys

# the module whose base class every dbt contract derives from; once imported, classes exist
_DBT_DATACLASSES = "dbt_common.dataclass_schema"


def compile_lazily() -> bool:
    """Defer the compilation of mashumaro classes defined from now on; False when dbt's are
    defined already (too late to matter) or mashumaro is not there."""
    if _DBT_DATACLASSES in sys.modules:
        return False
    try:
        from mashumaro.config import BaseConfig
    except ImportError:
        return False
    BaseConfig.lazy_compilation = True
    return True
