"""In-process backend: trained at start-up from nlu/data/nlu.yml in about a second, and
about a tenth of a millisecond per message.

Character 1-4-grams (TF-IDF) of the normalised text (NFKC, traditional -> simplified,
numerals -> digits, every number -> "0") and a few transparent cue features feed two
linear SVMs with softmax-calibrated scores: one over the 13 intents, one over the three
kinds; `understanding.from_scores` then decides from P(kind) x P(intent | kind).

The cue features are there for the hard boundary between a driver's own grievance
("老板欠我4200运费") and a general question about the same topic ("运费被拖欠一般怎么处理？"):
n-grams see the topic words in both, the cues see who it happened to and whether it is
asked in general terms.

Training uses scikit-learn; classifying one message does not: after training, `_OneMessage`
keeps what a single prediction needs (the n-gram -> column dictionary, the idf weights, the
coefficient rows of both SVMs, their intercepts and softmax temperatures) and scores a
message with plain Python and numpy, giving the same probabilities as the scikit-learn
path (kept as `reference_scores`) at a fraction of its per-call overhead."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack

from knowledge_base.text import normalize

from . import training_data
from .entities import EntityExtractor
from .text import t2s
from .understanding import COMPLAINT_BIAS, INTENTS, Understanding, from_scores

# name -> pattern, matched on the normalised text. Each is one feature (0/1).
CUES: dict[str, re.Pattern] = {k: re.compile(v) for k, v in {
    # Asked in general terms: "一般", "如果", "可以找哪个", "能不能", "吗" ...
    "general": r"一般|通常|如果|假如|万一|要是|遇到|碰到|这种(事|情况)|的话",
    "ask_who_how": r"找谁|找哪个|找哪里|哪个部门|怎么(处理|弄|申诉|投诉|算|交|退)|咋个?(处理|弄|申诉|样|搞)|"
                   r"如何|什么程序|哪样程序|流程|有用不|有没有用|合不合|合理不|合法|能退不|能要回来不|"
                   r"可以.{0,8}(不|吗|么)$|能.{0,8}(不|吗|么)$|(吗|么|呢)$|算不算|会不会|要不要|是不是|能不能|可不可以",
    # Plain "what do I do": as common after a driver's own trouble as in a general question.
    "what_now": r"(咋|怎么|怎麼|啷个)个?办",
    "question_word": r"多少|几(个|米|吨|点|号|天|年|分|岁)|好多|多久|好久|哪里|哪点|在哪|什么|啥|哪样|哪些|为什么",
    # A driver's own case: first person, a concrete amount / time / place / plate.
    "first_person": r"我|俺|咱|本人",
    "owed_me": r"欠我|扣我|罚我|给我|坑我|压我|骂我|推我|打我|偷我|抽我|撬我|封我|拉黑我|欠了我|扣了我|罚了我",
    "happened": r"(了|过)$|了 |遭|被.{1,8}了|还没|一直|都没|到现在|半年|个月了|好几|三次|两次|又",
    "specific_time": r"昨|今天|刚才|刚刚|凌晨|半夜|夜里|上个月|上周|去年|前天|早上",
    "number": r"0",
    "help_me": r"帮(我|下|忙)|书记|支部|求助|救命|快来|快帮|怎么办啊|咋办(嘛|啊|呀)",
    # Danger now / emergencies.
    "danger": r"抛锚|着火|追尾|车祸|受伤|翻车|侧翻|困|卡住|爆胎|失灵|晕倒|流血|救|危险|天黑|快来人|快报警",
}.items()}


_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _features(norm: str) -> np.ndarray:
    return np.array([1.0 if rx.search(norm) else 0.0 for rx in CUES.values()])


class SoftmaxSVM:
    """LinearSVC (fast to train, strong on sparse n-grams) with probabilities from a softmax
    over its decision scores; the softmax temperature is fitted on out-of-fold scores by
    log-loss, so the probabilities are calibrated enough to threshold on."""

    def __init__(self, c: float = 2.0):
        self.c = c

    def fit(self, x, y: list[str]) -> "SoftmaxSVM":
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.svm import LinearSVC

        self.svm = LinearSVC(C=self.c, class_weight="balanced", random_state=0).fit(x, y)
        self.classes_ = self.svm.classes_
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        oof = cross_val_predict(LinearSVC(C=self.c, class_weight="balanced", random_state=0), x, y, cv=folds,
                                method="decision_function")
        idx = np.searchsorted(self.classes_, y)
        grid = np.geomspace(0.5, 50, 40)
        losses = [-np.mean(np.log(_softmax(oof * t)[np.arange(len(y)), idx] + 1e-12)) for t in grid]
        self.temperature = float(grid[int(np.argmin(losses))])
        return self

    def predict_proba(self, x) -> np.ndarray:
        return _softmax(self.svm.decision_function(x) * self.temperature)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class _Model:
    vectorizer: object
    intent_classifier: SoftmaxSVM
    kind_classifier: SoftmaxSVM  # question / complaint / chitchat


class _OneMessage:
    """What scoring a single message needs, taken from a trained `_Model`: TfidfVectorizer's
    own analyzer (so preprocessing, lowercase, analyzer and ngram_range are exactly those
    used in training), its vocabulary and idf, and the coefficients of both SVMs side by side
    (intent classes first, then kinds), so one row lookup and one product score both.
    Per message: count the known n-grams, tf-idf them as TfidfTransformer does (sublinear_tf,
    idf, norm), add the cue features, dot, add intercepts, temperature softmax."""

    def __init__(self, model: _Model, cue_weight: float):
        vec = model.vectorizer
        if vec.norm not in (None, "l1", "l2"):
            raise ValueError(f"unsupported TfidfVectorizer norm: {vec.norm!r}")
        self.analyze = vec.build_analyzer()
        self.vocabulary: dict[str, int] = dict(vec.vocabulary_)
        self.idf = np.asarray(vec.idf_, dtype=np.float64) if vec.use_idf else None
        self.binary, self.sublinear_tf, self.norm = vec.binary, vec.sublinear_tf, vec.norm
        self.cue_weight = cue_weight
        clfs = (model.intent_classifier, model.kind_classifier)
        for c in clfs:
            if c.svm.coef_.shape[0] != len(c.classes_):  # a binary LinearSVC has one row
                raise ValueError("the single-message path needs one coefficient row per class")
        coef = np.ascontiguousarray(np.hstack([c.svm.coef_.T for c in clfs]), dtype=np.float64)
        n_text = len(self.vocabulary)
        self.text_rows, self.cue_rows = coef[:n_text], coef[n_text:]  # (features, classes)
        self.intercept = np.concatenate([c.svm.intercept_ for c in clfs]).astype(np.float64)
        self.n_intents = len(model.intent_classifier.classes_)
        # softmax temperature of each decision column
        self.temperatures = np.repeat([model.intent_classifier.temperature, model.kind_classifier.temperature],
                                      [self.n_intents, len(model.kind_classifier.classes_)])

    def probabilities(self, norm: str) -> tuple[list[float], list[float]]:
        """P(intent) in intent_classifier.classes_ order and P(kind) in kind_classifier.classes_
        order, as SoftmaxSVM.predict_proba gives them for this (normalised) text."""
        counts: dict[int, int] = {}  # column -> count of the known n-grams
        column = self.vocabulary.get
        for gram in self.analyze(norm):
            j = column(gram)
            if j is not None:
                counts[j] = counts.get(j, 0) + 1
        cues = _features(norm) * self.cue_weight
        decision = cues @ self.cue_rows + self.intercept
        if counts:
            n = len(counts)
            cols = np.fromiter(counts, dtype=np.intp, count=n)
            tf = np.ones(n) if self.binary else np.fromiter(counts.values(), dtype=np.float64, count=n)
            if self.sublinear_tf:
                tf = np.log(tf) + 1.0
            if self.idf is not None:
                tf *= self.idf[cols]
            scale = math.sqrt(float(tf @ tf)) if self.norm == "l2" else \
                float(np.abs(tf).sum()) if self.norm == "l1" else 1.0
            if scale:
                tf /= scale
            decision += tf @ self.text_rows[cols]
        # the two softmaxes of SoftmaxSVM.predict_proba; on 16 numbers plain Python is quicker
        k, z = self.n_intents, (decision * self.temperatures).tolist()
        return _softmax_small(z[:k]), _softmax_small(z[k:])


def _softmax_small(z: list[float]) -> list[float]:
    top = max(z)
    e = [math.exp(v - top) for v in z]
    total = sum(e)
    return [v / total for v in e]


class EmbeddedNlu:
    """Trains on construction; `parse` is thread-safe (read-only after training)."""

    backend = "embedded"
    # TfidfVectorizer settings; the single-message path follows whatever is set here.
    vectorizer_options = {"analyzer": "char_wb", "ngram_range": (1, 4), "sublinear_tf": True}

    def __init__(self, data_file: Path, dict_dir: Path | None = None, *, c: float = 2.0,
                 cue_weight: float = 1.0, complaint_bias: float = COMPLAINT_BIAS):
        data = training_data.load(Path(data_file))
        if not data.examples:
            raise ValueError(f"{data_file}: no training examples")
        self.entities = EntityExtractor(data, dict_dir)
        self.c, self.cue_weight, self.complaint_bias = c, cue_weight, complaint_bias
        self.fit(data.examples)

    def fit(self, examples: list[training_data.Example]) -> None:
        """(Re)train on these examples (cross-validation uses this directly)."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = [self.normalize(e.text) for e in examples]
        vec = TfidfVectorizer(**self.vectorizer_options)
        x = self._matrix(vec.fit_transform(texts), texts)
        self._model = _Model(vec, SoftmaxSVM(self.c).fit(x, [e.intent for e in examples]),
                             SoftmaxSVM(self.c).fit(x, [INTENTS[e.intent][0] for e in examples]))
        self._fast = _OneMessage(self._model, self.cue_weight)
        self._intents = [str(c) for c in self._model.intent_classifier.classes_]
        self._intent_kinds = [INTENTS[i][0] for i in self._intents]
        self._kinds = [str(c) for c in self._model.kind_classifier.classes_]

    @staticmethod
    def normalize(text: str) -> str:
        """The form the classifier sees: see module doc."""
        return _NUMBER.sub("0", normalize(text, t2s()))

    def _matrix(self, tfidf, norms: list[str]):
        cues = np.vstack([_features(n) for n in norms]) * self.cue_weight
        return hstack([tfidf, csr_matrix(cues)], format="csr")

    def scores(self, text: str) -> dict[str, float]:
        """Probability of every intent: P(kind) from the kind model (trained on pooled
        examples, so its question/complaint boundary sees 400 complaints, not 55 per intent)
        times P(intent | kind) from the intent model."""
        return self._combine(*self.probabilities(self.normalize(text)))

    def reference_scores(self, text: str) -> dict[str, float]:
        """`scores` through scikit-learn's transform and predict_proba: the reference the
        single-message path is tested against."""
        return self._combine(*self.reference_probabilities(self.normalize(text)))

    def probabilities(self, norm: str) -> tuple[list[float], list[float]]:
        """P(intent) and P(kind) of a normalised text, in the classes_ order of each model."""
        return self._fast.probabilities(norm)

    def reference_probabilities(self, norm: str) -> tuple[list[float], list[float]]:
        """`probabilities` through scikit-learn (slow per call; the reference)."""
        m = self._model
        x = self._matrix(m.vectorizer.transform([norm]), [norm])
        return m.intent_classifier.predict_proba(x)[0].tolist(), m.kind_classifier.predict_proba(x)[0].tolist()

    def _combine(self, intent_p: list[float], kind_p: list[float]) -> dict[str, float]:
        """P(kind) x P(intent | kind), from both models' probabilities in class order."""
        kind = dict(zip(self._kinds, kind_p))
        within = dict.fromkeys(kind, 0.0)
        for k, p in zip(self._intent_kinds, intent_p):
            within[k] += p
        within = {k: v or 1.0 for k, v in within.items()}
        return {i: kind[k] * p / within[k] for i, k, p in zip(self._intents, self._intent_kinds, intent_p)}

    def parse(self, text: str) -> Understanding:
        return from_scores(self.scores(text), text, self.entities.extract(text), self.backend,
                           complaint_bias=self.complaint_bias)
