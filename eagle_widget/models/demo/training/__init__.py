"""How the demo model was made: its parts, training data, training loop, quality and card.

None of this runs when the demo model is used (`tests/test_layering.py` holds that): it
is here so that anyone can retrain the shipped checkpoint and measure it again.

    python -m eagle_widget.models.demo.training.train --out DIR
"""
