"""File names of an evaluation's run folder: the evaluation writes them, the report reads them."""

RUN_FILE = "run.json"  # the run's task, model, options and item ids, written first
ROW_FILE = "row.json"  # an item's metrics and what it asked for
RESULT_FILE = "result.npz"  # an item's explanation (curves, order, label map, image)
ERROR_FILE = "error.json"
