"""Hash banks: known content by PDQ, MD5 and SHA-256, its index, matching, import and export."""
