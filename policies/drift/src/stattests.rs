//! Every drift test Evidently 0.7 registers, and how its score is read.
//!
//! Taken from Evidently's own source, `evidently/legacy/calculations/stattests/*.py`
//! (0.7.23; the same in 0.7.14): each file's `StatTest(name=…, display_name=…,
//! default_threshold=…)` and the comparison its function returns. A report names
//! a test by either name (`method` is the `name` a user passed, `stattest_name`
//! the `display_name`), so both are matched, exactly. The fixtures generator
//! (`tests/fixtures/generate.py`) checks this table against the installed
//! Evidently's registry, and the suite runs a real report of every test, drifted
//! and not, through the policy.

/// How a test's score decides drift against its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// A p-value: drift when it is below the threshold (`at_threshold`: or
    /// equal to it).
    PValue { at_threshold: bool },
    /// A distance, divergence or index: drift when it is above the
    /// threshold (`at_threshold`: or equal to it).
    Distance { at_threshold: bool },
    /// A domain classifier's ROC AUC compared with a percentile of random
    /// classifiers that the report does not carry: only the report's own
    /// decision can say whether it drifted.
    ReportOnly,
}

/// One registered test.
#[derive(Debug)]
pub struct StatTest {
    /// The registry name (`stattest="ks"`).
    pub name: &'static str,
    /// What reports print (`stattest_name`).
    pub display_name: &'static str,
    /// How its score is read.
    pub reading: Reading,
    /// The threshold Evidently uses when none is given.
    pub default_threshold: f64,
}

impl StatTest {
    /// Did the column drift, by Evidently's own comparison? `None` when the
    /// report alone can say ([`Reading::ReportOnly`]).
    pub fn drifted(&self, score: f64, threshold: f64) -> Option<bool> {
        match self.reading {
            Reading::PValue { at_threshold } => {
                Some(score < threshold || (at_threshold && score == threshold))
            }
            Reading::Distance { at_threshold } => {
                Some(score > threshold || (at_threshold && score == threshold))
            }
            Reading::ReportOnly => None,
        }
    }

    /// Is the score a p-value (smaller is more drift)?
    pub fn is_p_value(&self) -> bool {
        matches!(self.reading, Reading::PValue { .. })
    }
}

const fn p(
    name: &'static str,
    display_name: &'static str,
    at_threshold: bool,
    default_threshold: f64,
) -> StatTest {
    StatTest {
        name,
        display_name,
        reading: Reading::PValue { at_threshold },
        default_threshold,
    }
}

const fn d(
    name: &'static str,
    display_name: &'static str,
    at_threshold: bool,
    default_threshold: f64,
) -> StatTest {
    StatTest {
        name,
        display_name,
        reading: Reading::Distance { at_threshold },
        default_threshold,
    }
}

/// The table, in Evidently's file order. Names that do not say what the
/// score is are the reason it exists: `TVD` and `empirical_mmd` return
/// p-values; `Energy-distance` drifts only strictly above its threshold.
pub const STATTESTS: [StatTest; 20] = [
    // anderson_darling_stattest.py: `p_value < threshold`
    p("anderson", "Anderson-Darling", false, 0.1),
    // chisquare_stattest.py: `p_value < threshold`
    p("chisquare", "chi-square p_value", false, 0.05),
    // cramer_von_mises_stattest.py: `res.pvalue <= threshold`
    p("cramer_von_mises", "Cramer-von Mises", true, 0.1),
    // energy_distance.py: `distance > threshold`
    d("ed", "Energy-distance", false, 0.1),
    // epps_singleton_stattest.py: `p_value < threshold`
    p("es", "Epps-Singleton", false, 0.05),
    // fisher_exact_stattest.py: `p_value < threshold`
    p("fisher_exact", "Fisher's Exact test", false, 0.1),
    // g_stattest.py: `p_value < threshold`
    p("g_test", "g_test", false, 0.1),
    // hellinger_distance.py: `hellinger_distance >= threshold`
    d("hellinger", "Hellinger distance", true, 0.1),
    // jensenshannon.py: `jensenshannon_value >= threshold`
    d("jensenshannon", "Jensen-Shannon distance", true, 0.1),
    // kl_div.py: `kl_div_value >= threshold`
    d("kl_div", "Kullback-Leibler divergence", true, 0.1),
    // ks_stattest.py: `p_value <= threshold`
    p("ks", "K-S p_value", true, 0.05),
    // mann_whitney_urank_stattest.py: `p_value < threshold`
    p("mannw", "Mann-Whitney U-rank test", false, 0.05),
    // mmd_stattest.py: a permutation p-value, `p_value < threshold`
    p("empirical_mmd", "empirical_mmd", false, 0.1),
    // psi.py: `psi_value >= threshold`
    d("psi", "PSI", true, 0.1),
    // t_test.py: `p_value < threshold`
    p("t_test", "t_test", false, 0.05),
    // text_content_drift.py: ROC AUC `>` a bootstrapped percentile (not in the report)
    StatTest {
        name: "perc_text_content_drift",
        display_name: "Percentile text content drift",
        reading: Reading::ReportOnly,
        default_threshold: 0.95,
    },
    // text_content_drift_abs.py: ROC AUC `> threshold`
    d(
        "abs_text_content_drift",
        "Absolute text content drift",
        false,
        0.55,
    ),
    // tvd_stattest.py: a permutation p-value, `p_value < threshold`
    p("TVD", "Total-Variation-Distance", false, 0.1),
    // wasserstein_distance_norm.py: `wd_norm_value >= threshold`
    d("wasserstein", "Wasserstein distance (normed)", true, 0.1),
    // z_stattest.py: `p_value < threshold`
    p("z", "Z-test p_value", false, 0.05),
];

/// The test a report names, by registry or display name.
pub fn lookup(method: &str) -> Option<&'static StatTest> {
    STATTESTS
        .iter()
        .find(|t| t.name == method || t.display_name == method)
}
