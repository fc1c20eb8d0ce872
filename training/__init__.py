"""Training, evaluation, reports and prediction of the emotion classifier."""
