"""`python -m training.demo`: run the demo."""

from training.demo.demo import main

main()
