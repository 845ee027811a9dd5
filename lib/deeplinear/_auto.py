"""What `train(engine="auto")` compiles (private): runs whose products are small, where Python's overhead per step,
not BLAS, is the numpy engine's time. Both engines import it, neither through the other."""

AUTO_MAX = 64**3  # "auto" compiles a run whose largest product has at most this many multiply-adds


def largest_product(X, layers) -> int:
    """Multiply-adds of the largest product of a pass: max over layers of k_i k_{i-1} n (n = k_0 on the identity)."""
    N = layers[0].shape[-1] if X is None else X.shape[-1]
    return max(W.shape[-2] * W.shape[-1] for W in layers) * N
