"""What every corpus uses: download, extraction, decoding, splits, folders, writes, errors."""
