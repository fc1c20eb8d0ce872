"""Model code that training and inference both use: building, loading, exact forward passes."""
