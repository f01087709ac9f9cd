"""Media: the encrypted store, safe decoding and hashing, previews, video, fetching, classifiers."""
