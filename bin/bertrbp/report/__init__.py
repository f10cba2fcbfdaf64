"""Cross-RBP reporting: gather per-RBP evaluation metrics into one table and a self-contained HTML report."""
