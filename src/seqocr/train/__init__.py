"""Training: the loop, the training step it shares with ``seqocr bench``, distributed set-up, losses, training
checkpoints and the evaluation of a dataset."""
