"""Features and metrics shared by training and evaluation (classifier embeddings, MFCC statistics, distances)."""
