"""What the report's less obvious columns mean, with their units; report.md prints the entries of each table."""

from __future__ import annotations

COLUMN_LEGEND: dict[str, str] = {
    "cos_centred_mean": "mean cosine after subtracting the mean row (anisotropy removed)",
    "mean_vector_norm": "norm of the mean row, in the embedding's own units",
    "top_eig_share": "share of the total variance on the first principal axis",
    "participation_ratio": "(Σλ)²/Σλ² of the covariance eigenvalues: an effective number of axes",
    "pr_over_dim": "participation ratio divided by the width",
    "dims_80": "principal axes holding 80% of the variance (dims_90, dims_95, dims_99 likewise)",
    "twonn_sample": "rows per sample of the headline intrinsic dimensions (they depend on it)",
    "twonn_dim": "TwoNN intrinsic dimension (Facco et al. 2017), mean over samples of twonn_sample rows",
    "twonn_dim_std": "standard deviation of twonn_dim over the samples (seeds)",
    "mle_dim": "Levina–Bickel MLE dimension (20 neighbours, harmonic pooling), mean over the same samples",
    "mle_dim_std": "standard deviation of mle_dim over the samples",
    "estimator": "twonn or mle (scikit-dimension's TwoNN() and MLE() computations)",
    "sample": "rows drawn without replacement for one estimate",
    "simplex_cv": "std/mean of 5-point simplex volumes (dimensionless)",
    "simplex_invalid": "degenerate simplices (det G ≤ 1e-12 of the Hadamard bound), counted, not dropped",
    "gauss_simplex_cv": "simplex_cv of a Gaussian with the same mean and covariance",
    "shuffled_simplex_cv": "simplex_cv with every coordinate permuted independently (same marginals)",
    "cv_over_gauss_cv": "simplex_cv / gauss_simplex_cv: below 1, volumes vary less than a Gaussian's",
    "pearson_distance_cos": "Pearson correlation of cosine with |i − j| over the numbers 0..99",
    "spearman_distance_cos": "Spearman correlation of cosine with |i − j| over the numbers 0..99",
    "adjacent_gap": "adjacent_mean_cos − nonadjacent_mean_cos",
    "multi_token": "items spelled by more than one token (their rows are averaged)",
    "lift": "intra_cos minus the mean cosine of random token pairs",
    "null_group_cos": "mean cosine within random token groups of the same size (the null)",
    "first_norm": "norm of the first position (usually an attention sink), reported apart",
    "fro_norm": "Frobenius norm ‖W‖_F",
    "sigma_max": "largest singular value σ_max = ‖W‖₂ (WeightWatcher's `spectral_norm` is σ_max², its `sv_max` σ_max)",
    "rms": "root mean square of the entries, ‖W‖_F/√(rows·cols)",
    "stable_rank": "‖W‖²_F/‖W‖²₂ (dimensionless, at most min(rows, cols))",
    "effective_rank": "exp of the entropy of the normalised singular values (Roy–Vetterli)",
    "effective_rank_ratio": "effective_rank / min(rows, cols)",
    "frac_abs_lt_0.001": "share of entries with |w| < 1e-3 (frac_abs_lt_0.01, frac_abs_lt_0.1 likewise)",
    "frac_lt_0.1rms": "share of entries with |w| < 0.1·rms (scale-free; 7.97% for a Gaussian matrix)",
    "alpha": "power-law exponent of the eigenvalues σ² of WᵀW above alpha_xmin",
    "alpha_xmin": "smallest eigenvalue σ² of the fitted tail (units of σ²)",
    "alpha_ks": "Kolmogorov–Smirnov distance between the tail and the fitted power law (0 to 1)",
    "alpha_tail": "eigenvalues in the fitted tail",
    "alpha_quality": "ok, or what to be wary of in the fit (short tail, KS > 0.1, alpha outside 2–6)",
    "qk_cosine": "cosine between the head's flattened W_Q and W_K",
    "sym_dev": "‖M − Mᵀ‖/‖M‖ of M = W_Qᵀ W_K: 0 for a symmetric form",
    "pos_eig_mass": "positive share of the |eigenvalue| mass of (M + Mᵀ)/2: 1 similarity, 0 anti-similarity",
    "dead_frac": "share of neurons with importance below 1% of the layer mean",
    "weak_frac": "share of neurons with importance below 10% of the layer mean",
    "importance_cv": "std/mean of neuron importance ‖input weights‖·‖output weights‖",
    "null_abs_cos": "√(2/(πn)): mean |cosine| of two independent random matrices of n entries",
    "frac_near_one": "share of norm-layer scales near 1",
    "no_common_ancestor": "word pairs whose synsets share no hypernym, left out",
    "pearson_ci_low": "bootstrap 95% interval of the Pearson correlation (pearson_ci_high its top)",
}


def legend_lines(columns: list[str]) -> list[str]:
    """Markdown bullet lines for the columns of one table that have an entry."""
    return [f"- `{name}`: {COLUMN_LEGEND[name]}" for name in columns if name in COLUMN_LEGEND]
