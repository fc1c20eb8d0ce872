"""The Trainer and its extensions: class weights, the divergence stop, the CNN feature cache."""
