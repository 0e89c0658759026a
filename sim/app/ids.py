"""Component ids of the web app, one named constant each (layout and callbacks share them).

Scenario fields edited in place use pattern-matching ids ``{"type": PATH_FIELD | VALUE_FIELD,
"key": "<dotted scenario key>"}``, so a new field is one entry in ``layout.FIELDS``.
"""

# per-session state (dcc.Store in the browser)
LOADED = "loaded-scenario"        # the scenario as loaded (kommune default, upload, TOML text)
SCENARIO = "scenario"             # the scenario being edited (LOADED + the editor's fields)
PINNED = "pinned-scenarios"       # [{"name", "scenario"}] pinned for side by side
ABM = "abm-runs"                  # {"key", "runs", "chunks"}: ABM replicates so far

# editor
KOMMUNE = "kommune"
PATH_FIELD = "path-field"         # pattern type: a year-path table (DataTable "data")
VALUE_FIELD = "value-field"       # pattern type: a number or text input ("value")
HOUSING = "housing-table"
HOUSING_ADD = "housing-add"
COVERAGE = "coverage-table"
COVERAGE_ADD = "coverage-add"
ADD_ROW = "add-row"               # pattern type: "add a row" button of a year-path table
SCENARIO_ERROR = "scenario-error"   # the edited scenario does not run
LOAD_ERROR = "load-error"           # an uploaded or typed TOML cannot be used
UPLOAD = "upload-scenario"
DOWNLOAD_TOML = "download-toml"
DOWNLOAD_TOML_BUTTON = "download-toml-button"
RESET = "reset-scenario"
TOML_TEXT = "toml-text"
TOML_APPLY = "toml-apply"

# results
TABS = "tabs"
YEAR = "report-year"
KEY_FIGURES = "key-figures"
NOTES = "run-notes"
POPULATION = "population-figure"
AGE_GROUPS = "age-groups-figure"
PYRAMID = "pyramid-figure"
PYRAMID_YEAR = "pyramid-year"
SERVICE = "service"
SERVICES = "services-figure"
SERVICES_TABLE = "services-table"
DEMOGRAFI = "demografikostnader-figure"
BUDGET_FIGURE = "budget-figure"
BUDGET_TABLES = "budget-tables"

# ABM band
ABM_RUNS = "abm-runs-input"
ABM_START = "abm-start"
ABM_TICK = "abm-tick"
ABM_PROGRESS = "abm-progress"
ABM_GROUP = "abm-group"
ABM_BAND = "abm-band"

# side by side
PIN_NAME = "pin-name"
PIN = "pin"
PIN_MAIN = "pin-main"
UNPIN = "unpin"                   # pattern type: remove pinned scenario {"index": i}
PINNED_LIST = "pinned-list"
COMPARE_KEY = "compare-key"
COMPARE_SENTENCES = "compare-sentences"
COMPARE_TABLE = "compare-table"
COMPARE_FIGURE = "compare-figure"

# Excel
DOWNLOAD_XLSX = "download-xlsx"
DOWNLOAD_XLSX_BUTTON = "download-xlsx-button"

# sweeps
SWEEP = "sweep"
SWEEP_INFO = "sweep-info"
SWEEP_INDICATOR = "sweep-indicator"
SWEEP_FAN = "sweep-fan"
SWEEP_SENSITIVITY = "sweep-sensitivity"
