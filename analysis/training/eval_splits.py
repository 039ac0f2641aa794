"""How the abuse classifier transfers: COLD splits that do not resemble the training rows.

    python -m analysis.training.eval_splits [--shared /work/shared/data]
        [--validate | --validate-clusters | --tune] [--recipe current|round4|round2|round1|before]
        [--C C] [--words N] [--chars N] [--bits B] [--balanced] [--lexicons a,b]
        [--lexicon-multi] [--validated-threshold] [--threshold-rule topics|clusters]
        [--mask groups] [--mask-keep] [--group-hits] [--average]
        [--embed whisper-base [--embed-fusion joint|late] [--embed-weight W] [--embed-cache F]]

Each split trains a recipe (`train_abuse.Recipe`; default the production one, `--recipe
round4` the model of round 4 (2026-11-30, production since), `--recipe round2` that of
round 2 (2026-11-30), `--recipe round1` that of
2026-11-29, `--recipe before` the char-only model up to 2026-11-28; the other flags override it) on COLD train rows + lexicon insults + STC3 helpdesk turns (as
train_abuse does) and scores another part of COLD (P/R/F1, AUC):

* ``cold_dev``       all of COLD train -> all of COLD dev (the figure train_abuse prints);
* ``topic:<T>``      leave one topic out: COLD train rows of the two other topics ->
                     COLD dev rows of topic T (race, gender, region);
* ``length``         COLD train rows of >= 30 chars -> COLD dev rows of < 20 chars (short,
                     utterance-like text; COLD is written comments, mean ~48 chars);
* ``blind_style``    all of COLD train -> analysis/evaldata/blind_cold_style.csv (COLD-style
                     comments on topics COLD lacks, written before round 2);
* ``blind_style2``   all of COLD train -> analysis/evaldata/blind_cold_style2.csv (COLD-style
                     comments on every kind of group, written before round 3);
* ``blind_style3``   all of COLD train -> analysis/evaldata/blind_cold_style3.csv (COLD-style
                     comments on every kind of group in new forms, written before round 4);
* ``blind_style4``   all of COLD train -> analysis/evaldata/blind_cold_style4.csv (COLD-style
                     comments in spoken and chat registers, written before round 5);
* ``blind_style5``   all of COLD train -> analysis/evaldata/blind_cold_style5.csv (COLD-style
                     long-form forum comments, written before round 6).

``--mask NAME`` masks the list's entries before featurising (target masking, analysis.features;
``--mask-keep`` keeps the unmasked n-grams too; ``--group-hits`` adds a bucket per word list hit
in a clause that names a group); ``--average`` averages the probabilities of a
char-only and a word-only model (evaluation only: a model file holds one weight vector);
``--embed whisper-base`` adds Whisper base's decoder embedding of each text (round 6,
`embedding_fusion`: ``--embed-fusion joint`` in the same LR, ``late`` as a second LR whose logit
is averaged in at ``--embed-weight``; ``--embed-cache FILE`` keeps the embeddings between runs:
a folder, a missing folder or a file that is not such a cache is refused, before any work).

These are the held-out figures to report. A recipe with ``validated_threshold`` decides at a
threshold chosen on validation, never on the scored rows: for ``topic:<T>`` by nested
leave-one-topic-out over the two training topics' COLD train rows (T's rows unread), for the
other splits by leave-one-topic-out over all three topics' train rows (as train_abuse stores
it in the model); F1 at 0.5 is printed alongside. Otherwise everything is at 0.5.

``--validate`` prints only the nested-validation figures (the "dev" figures to choose
features and hyper-parameters on; no dev.csv row is read): for each held-out topic, each of
its two training topics' train rows scored by a model trained on the other one, F1 at the
threshold chosen on the two pooled, and the mean over the six. ``--tune`` (round 1's
tuning split) scores each topic fold on the COLD *train* rows of the held-out topic.

``--validate-clusters`` (round 4, closer to the outer setting: models trained on two topics'
worth of rows, scored on targets they never saw; no dev.csv row, no blind row is read): for
each held-out topic T, the COLD train rows of T's two training topics split by target cluster
(`target_clusters`); each fold trains on both topics minus the rows mentioning the cluster's
groups and is scored on the rows whose first clustered mention is the cluster. F1 at 0.5, at
the "topics" threshold (round 2's leave-one-topic-out) and at the "clusters" threshold (chosen
on the other cluster folds pooled), AUC; the mean over T's folds and over the three T.
``--threshold-rule clusters`` (a recipe's ``threshold_rule``) chooses the validated threshold
on the cluster folds (pooled) instead of the leave-one-topic-out ones. Test rows whose normalised text is among the training texts are dropped. Needs the
training extras (scikit-learn, scipy); a few minutes on one core.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from analysis.normalize import normalize
from analysis.training import train_abuse
from analysis.training.embedding_fusion import EMBEDDINGS, CacheError, EmbeddingCache
from analysis.training.common import DEFAULT_SHARED, best_threshold, binary_scores
from analysis.training.target_clusters import validation_folds

TOPICS = ("race", "gender", "region")
# COLD-style comments on topics COLD lacks, written before round 2 (analysis/evaldata/README.md)
BLIND_STYLE = Path(__file__).resolve().parents[1] / "evaldata" / "blind_cold_style.csv"
# COLD-style comments on every kind of group, written before round 3 (target masking)
BLIND_STYLE2 = BLIND_STYLE.with_name("blind_cold_style2.csv")
# COLD-style comments on every kind of group in new forms, written before round 4
BLIND_STYLE3 = BLIND_STYLE.with_name("blind_cold_style3.csv")
# COLD-style comments in spoken and chat registers, written before round 5
BLIND_STYLE4 = BLIND_STYLE.with_name("blind_cold_style4.csv")
# COLD-style long-form forum comments, written before round 6
BLIND_STYLE5 = BLIND_STYLE.with_name("blind_cold_style5.csv")
BLINDS = {"blind_style": BLIND_STYLE, "blind_style2": BLIND_STYLE2, "blind_style3": BLIND_STYLE3,
          "blind_style4": BLIND_STYLE4, "blind_style5": BLIND_STYLE5}
SHORT, LONG = 20, 30


def splits(cold_train: list[dict], cold_dev: list[dict], tune: bool) -> dict[str, tuple[list, list]]:
    """name -> (training COLD rows, test rows)."""
    out = {} if tune else {"cold_dev": (cold_train, cold_dev)}
    for topic in TOPICS:
        train = [r for r in cold_train if r["topic"] != topic]
        test = [r for r in (cold_train if tune else cold_dev) if r["topic"] == topic]
        out[f"topic:{topic}"] = (train, test)
    if not tune:
        out["length"] = ([r for r in cold_train if len(r["text"]) >= LONG],
                         [r for r in cold_dev if len(r["text"]) < SHORT])
    return out


class Matrix:
    """Features of every text computed once (rows picked per split); with `recipe.embed`, the
    texts' embeddings too (`dense`), from `embeddings` (an EmbeddingCache; a new one without
    a file if None)."""

    def __init__(self, texts: list[str], recipe: train_abuse.Recipe,
                 embeddings: EmbeddingCache | None = None) -> None:
        self.row = {}
        for t in texts:
            self.row.setdefault(t, len(self.row))
        # one matrix per averaged part (recipe.average), else one
        self.parts = [train_abuse.features(list(self.row), r) for r in recipe.parts()]
        self.X = self.parts[0]
        self.D = None
        if recipe.embed:
            self.D = (embeddings or EmbeddingCache(recipe.embed))(list(self.row))

    def __call__(self, texts: list[str], part: int = 0):
        return self.parts[part][[self.row[t] for t in texts]]

    def dense(self, texts: list[str]):
        return self.D[[self.row[t] for t in texts]]


def predict(train_rows: list[dict], test_rows: list[dict], extra: tuple[list, list],
            recipe: train_abuse.Recipe, matrix: Matrix) -> tuple[list[int], np.ndarray, int]:
    """Fit `recipe` on train_rows (+ the extra texts/labels); (labels, probabilities, n_train)
    of the test rows whose normalised text is not among the training texts."""
    ex_x, ex_y = extra
    tr_x = [r["text"] for r in train_rows] + ex_x
    tr_y = [r["label"] for r in train_rows] + ex_y
    seen = {normalize(t) for t in tr_x}
    test_rows = [r for r in test_rows if normalize(r["text"]) not in seen]
    te_x = [r["text"] for r in test_rows]
    if recipe.embed:
        from analysis.training.embedding_fusion import fit_embedded

        clf = fit_embedded(matrix(tr_x), matrix.dense(tr_x), tr_y, recipe)
        p = clf.predict_proba(matrix(te_x), matrix.dense(te_x))[:, 1]
        return [r["label"] for r in test_rows], p, len(tr_x)
    ps = []
    for i, part in enumerate(recipe.parts()):
        clf = train_abuse.fit_matrix(matrix(tr_x, i), tr_y, part, quiet=True)
        ps.append(clf.predict_proba(matrix(te_x, i))[:, 1])
    p = np.mean(ps, axis=0)
    return [r["label"] for r in test_rows], p, len(tr_x)


def fold_predictions(cold_train: list[dict], topics, rule: str, extra, recipe,
                     matrix) -> dict[str, tuple[list[int], np.ndarray]]:
    """Fold name -> (labels, probabilities) of its validation rows, each fold of
    `target_clusters.validation_folds(cold_train, topics, rule)` predicted by a model fitted
    on its training rows (+ extras). Only COLD train rows of `topics` are read."""
    return {name: predict(tr, va, extra, recipe, matrix)[:2]
            for name, tr, va in validation_folds(cold_train, topics, rule)}


def validation(cold_train: list[dict], topics, extra, recipe, matrix) -> dict:
    """Leave-one-topic-out among `topics` on COLD train rows only (each inner fold trains on
    the other topics of `topics`, validates on this one's train rows); the threshold with the
    best F1 on the pooled validation predictions, and each inner fold's scores at it."""
    folds = fold_predictions(cold_train, topics, "topics", extra, recipe, matrix)
    thr = pooled_threshold(folds.values())
    out = {"threshold": thr}
    for t, (y, p) in folds.items():
        s = binary_scores(y, p, thr)
        out[t] = {"f1": s["f1"], "f1_at_0.5": binary_scores(y, p)["f1"], "auc": s["auc"],
                  "precision": s["precision"], "recall": s["recall"]}
    return out


def pooled_threshold(folds) -> float:
    """The F1-best threshold on the pooled (labels, probabilities) of `folds`."""
    folds = list(folds)
    return best_threshold([v for y, _ in folds for v in y], np.concatenate([p for _, p in folds]))


def recipe_threshold(cold_train: list[dict], topics, extra, recipe, matrix) -> float:
    """The threshold a recipe decides at for a model trained on `topics`: 0.5, or the F1-best
    on its `threshold_rule`'s validation folds over those topics' COLD train rows."""
    if not recipe.validated_threshold:
        return 0.5
    return pooled_threshold(fold_predictions(cold_train, topics, recipe.threshold_rule, extra,
                                             recipe, matrix).values())


def cluster_validation(cold_train: list[dict], topics, extra, recipe, matrix) -> dict:
    """Leave-one-target-cluster-out inside `topics` (models trained on all of `topics` but one
    cluster's rows, as the outer models are; COLD train rows of `topics` only). Per fold: AUC
    and F1 at 0.5, at the round-2 threshold (leave-one-topic-out among `topics`, "topics"), and
    at the threshold chosen on the other clusters' folds pooled ("clusters")."""
    folds = fold_predictions(cold_train, topics, "clusters", extra, recipe, matrix)
    loto = validation(cold_train, topics, extra, recipe, matrix)["threshold"]
    out = {"threshold_topics": loto, "threshold_clusters": pooled_threshold(folds.values())}
    for name, (y, p) in folds.items():
        others = pooled_threshold(v for k, v in folds.items() if k != name)
        at05 = binary_scores(y, p)
        out[name] = {"n": len(y), "auc": at05["auc"], "f1_at_0.5": at05["f1"],
                     "f1_topics": binary_scores(y, p, loto)["f1"],
                     "f1_clusters": binary_scores(y, p, others)["f1"], "threshold_clusters": others}
    return out


def run_split(train_rows: list[dict], test_rows: list[dict], extra: tuple[list, list],
              recipe: train_abuse.Recipe, matrix: Matrix, sweep: bool = False,
              threshold: float = 0.5) -> dict:
    """Fit `recipe` on train_rows (+ the extra texts/labels), score test_rows at `threshold`
    (and at 0.5)."""
    y, p, n_train = predict(train_rows, test_rows, extra, recipe, matrix)
    s = binary_scores(y, p, threshold)
    if threshold != 0.5:
        s = {"threshold": threshold, **s, "f1_at_0.5": binary_scores(y, p)["f1"]}
    if sweep:
        s["f1_at"] = {t: binary_scores(y, p, t)["f1"] for t in (0.4, 0.5, 0.6, 0.7, 0.8)}
    return {"n_train": n_train, "n_test": len(y), "pos_test": int(sum(y)), **s}


def parser() -> argparse.ArgumentParser:
    """The command line (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--tune", action="store_true", help="score topic folds on COLD train rows")
    ap.add_argument("--validate", action="store_true",
                    help="nested validation inside each fold's training topics only (choose here)")
    ap.add_argument("--validate-clusters", action="store_true",
                    help="leave-one-target-cluster-out validation inside each fold's training "
                         "topics (round 4: models trained on two topics' worth of rows)")
    ap.add_argument("--threshold-rule", choices=("topics", "clusters"),
                    help="folds the validated threshold is chosen on")
    ap.add_argument("--only", help="comma-separated split names")
    ap.add_argument("--recipe", choices=("current", "before", "round1", "round2", "round4"),
                    default="current")
    ap.add_argument("--C", type=float)
    ap.add_argument("--words", type=int, help="word n-gram max (0: chars only)")
    ap.add_argument("--chars", type=int, help="char n-gram max")
    ap.add_argument("--bits", type=int)
    ap.add_argument("--average", action=argparse.BooleanOptionalAction, default=None,
                    help="average a char-only and a word-only model (validation only)")
    ap.add_argument("--mask", help="word list whose entries are masked (e.g. groups; '' for none)")
    ap.add_argument("--mask-keep", action=argparse.BooleanOptionalAction, default=None,
                    help="with --mask, keep the unmasked n-grams too")
    ap.add_argument("--group-hits", action=argparse.BooleanOptionalAction, default=None,
                    help="with --mask and lexicons, a bucket per list hit in a clause naming a group")
    ap.add_argument("--balanced", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--nb", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--complaints", type=int, help="negative reviews added as safe")
    ap.add_argument("--lexicons", help="comma-separated lexicon names ('' for none)")
    ap.add_argument("--lexicon-multi", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--validated-threshold", action=argparse.BooleanOptionalAction, default=None,
                    help="decision threshold chosen on validation (else 0.5)")
    ap.add_argument("--embed", choices=EMBEDDINGS + ("",),
                    help="a text embedding beside the n-grams ('' for none)")
    ap.add_argument("--embed-fusion", choices=("joint", "late"))
    ap.add_argument("--embed-weight", type=float)
    ap.add_argument("--embed-cache", type=Path,
                    help="a .npz file keeping the texts' embeddings between runs (~30 ms a text)")
    ap.add_argument("--sweep", action="store_true", help="also F1 at other thresholds")
    return ap


def recipe_of(args: argparse.Namespace) -> train_abuse.Recipe:
    """The recipe `args` select: `--recipe` with the other flags overriding its fields."""
    recipe = {"current": train_abuse.RECIPE, "before": train_abuse.BEFORE,
              "round1": train_abuse.ROUND1, "round2": train_abuse.ROUND2,
              "round4": train_abuse.ROUND4}[args.recipe]
    lex = None if args.lexicons is None else tuple(n for n in args.lexicons.split(",") if n)
    over = {"C": args.C, "word_ngram_max": args.words, "bits": args.bits, "balanced": args.balanced,
            "nb": args.nb, "complaints": args.complaints, "ngram_max": args.chars, "lexicons": lex,
            "validated_threshold": args.validated_threshold, "lexicon_multi": args.lexicon_multi,
            "mask": args.mask, "mask_keep": args.mask_keep, "average": args.average,
            "group_hits": args.group_hits, "embed": args.embed, "embed_fusion": args.embed_fusion,
            "embed_weight": args.embed_weight, "threshold_rule": args.threshold_rule}
    return replace(recipe, **{k: v for k, v in over.items() if v is not None})


def main(argv: list[str] | None = None) -> int:
    """Print the splits' (or the validation's) figures; 2 if COLD or a model is missing."""
    args = parser().parse_args(argv)
    try:
        return _run(args)
    except (FileNotFoundError, CacheError) as exc:  # COLD's extras, a word list, --embed's model or cache
        print(f"error: {exc}")
        return 2


def _run(args: argparse.Namespace) -> int:
    recipe = recipe_of(args)
    cold = args.shared / "text" / "COLD"
    if not (cold / "train.csv").exists():
        print(f"error: COLD not found under {args.shared} (use --shared)")
        return 2
    # opened first: a bad --embed-cache is told before minutes of featurising
    embeddings = EmbeddingCache(recipe.embed, args.embed_cache) if recipe.embed else None
    tr = train_abuse.read_cold_rows(cold / "train.csv")
    extra = train_abuse.extra_examples(args.shared / "text", recipe)
    print(f"recipe: {recipe.describe()}")
    if args.validate or args.validate_clusters:  # COLD train rows only: no dev.csv, no blind row
        matrix = Matrix([r["text"] for r in tr] + extra[0], recipe, embeddings)
        return (_validate if args.validate else _validate_clusters)(tr, extra, recipe, matrix)
    dv = train_abuse.read_cold_rows(cold / "dev.csv")
    blinds = {name: train_abuse.read_cold_rows(path) for name, path in BLINDS.items()}
    matrix = Matrix([r["text"] for r in tr + dv + [b for rows in blinds.values() for b in rows]]
                    + extra[0], recipe, embeddings)
    results = {}
    wanted = set(args.only.split(",")) if args.only else None
    thr_all = None
    for name, (train, test) in splits(tr, dv, args.tune).items():
        if wanted and name not in wanted:
            continue
        thr = 0.5
        if recipe.validated_threshold and not args.tune:
            if name.startswith("topic:"):
                inner = tuple(t for t in TOPICS if f"topic:{t}" != name)
                thr = recipe_threshold(tr, inner, extra, recipe, matrix)
            else:
                if thr_all is None:
                    thr_all = recipe_threshold(tr, TOPICS, extra, recipe, matrix)
                thr = thr_all
        res = run_split(train, test, extra, recipe, matrix, args.sweep, thr)
        results[name] = res
        print(f"{name:14s} " + json.dumps(res))
    for bname, brows in blinds.items():
        if args.tune or (wanted and bname not in wanted):
            continue
        if thr_all is None:
            thr_all = recipe_threshold(tr, TOPICS, extra, recipe, matrix)
        res = run_split(tr, brows, extra, recipe, matrix, args.sweep, thr_all)
        print(f"{bname:14s} " + json.dumps(res))
    topic = [results[f"topic:{t}"] for t in TOPICS if f"topic:{t}" in results]
    if topic:
        mean = {k: round(float(np.mean([r[k] for r in topic])), 4)
                for k in ("precision", "recall", "f1", "auc")}
        print(f"{'topic mean':14s} " + json.dumps(mean))
    return 0


def _validate(tr: list[dict], extra, recipe, matrix) -> int:
    """Print the nested-validation figures (COLD train rows only; no dev.csv row is read)."""
    f1s, aucs, f05 = [], [], []
    for held in TOPICS:
        inner = tuple(t for t in TOPICS if t != held)
        v = validation(tr, inner, extra, recipe, matrix)
        print(f"fold -{held:7s} " + json.dumps(v))
        for t in inner:
            f1s.append(v[t]["f1"])
            aucs.append(v[t]["auc"])
            f05.append(v[t]["f1_at_0.5"])
    print(f"{'inner mean':14s} " + json.dumps({"f1": round(float(np.mean(f1s)), 4),
          "f1_at_0.5": round(float(np.mean(f05)), 4), "auc": round(float(np.mean(aucs)), 4)}))
    v = validation(tr, TOPICS, extra, recipe, matrix)
    print(f"{'all topics':14s} " + json.dumps(v))
    return 0


def _validate_clusters(tr: list[dict], extra, recipe, matrix) -> int:
    """Print the target-cluster validation figures (COLD train rows of each held-out topic's
    two training topics only; no dev.csv row, no blind row): per held-out topic, each cluster
    fold and the folds' mean, then the mean over the three held-out topics."""
    keys = ("auc", "f1_at_0.5", "f1_topics", "f1_clusters")
    means = []
    for held in TOPICS:
        inner = tuple(t for t in TOPICS if t != held)
        v = cluster_validation(tr, inner, extra, recipe, matrix)
        folds = [f for k, f in v.items() if not k.startswith("threshold")]
        means.append({k: float(np.mean([f[k] for f in folds])) for k in keys})
        print(f"fold -{held:7s} " + json.dumps(v))
        print(f"  mean -{held:6s} " + json.dumps({k: round(x, 4) for k, x in means[-1].items()}))
    print(f"{'cluster mean':14s} " + json.dumps({k: round(float(np.mean([m[k] for m in means])), 4)
                                                 for k in keys}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
