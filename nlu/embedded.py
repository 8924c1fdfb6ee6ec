"""In-process backend: trained at start-up from nlu/data/nlu.yml in about a second, and
about a millisecond per message.

Character 1-4-grams (TF-IDF) of the normalised text (NFKC, traditional -> simplified,
numerals -> digits, every number -> "0") and a few transparent cue features feed two
linear SVMs with softmax-calibrated scores: one over the 13 intents, one over the three
kinds; `understanding.from_scores` then decides from P(kind) x P(intent | kind).

The cue features are there for the hard boundary between a driver's own grievance
("老板欠我4200运费") and a general question about the same topic ("运费被拖欠一般怎么处理？"):
n-grams see the topic words in both, the cues see who it happened to and whether it is
asked in general terms."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix, hstack

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

        self.svm = LinearSVC(C=self.c, class_weight="balanced").fit(x, y)
        self.classes_ = self.svm.classes_
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        oof = cross_val_predict(LinearSVC(C=self.c, class_weight="balanced"), x, y, cv=folds,
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


class EmbeddedNlu:
    """Trains on construction; `parse` is thread-safe (read-only after training)."""

    backend = "embedded"

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
        vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
        x = self._matrix(vec.fit_transform(texts), texts)
        self._model = _Model(vec, SoftmaxSVM(self.c).fit(x, [e.intent for e in examples]),
                             SoftmaxSVM(self.c).fit(x, [INTENTS[e.intent][0] for e in examples]))

    @staticmethod
    def normalize(text: str) -> str:
        """The form the classifier sees: see module doc."""
        from knowledge_base.text import normalize

        t = normalize(text, t2s())
        return re.sub(r"\d+(?:\.\d+)?", "0", t)

    def _matrix(self, tfidf, norms: list[str]):
        cues = np.vstack([_features(n) for n in norms]) * self.cue_weight
        return hstack([tfidf, csr_matrix(cues)], format="csr")

    def scores(self, text: str) -> dict[str, float]:
        """Probability of every intent: P(kind) from the kind model (trained on pooled
        examples, so its question/complaint boundary sees 400 complaints, not 55 per intent)
        times P(intent | kind) from the intent model."""
        norm = self.normalize(text)
        m = self._model
        x = self._matrix(m.vectorizer.transform([norm]), [norm])
        probs = dict(zip(map(str, m.intent_classifier.classes_), map(float, m.intent_classifier.predict_proba(x)[0])))
        kind_p = dict(zip(map(str, m.kind_classifier.classes_), map(float, m.kind_classifier.predict_proba(x)[0])))
        within = {k: sum(p for i, p in probs.items() if INTENTS[i][0] == k) or 1.0 for k in kind_p}
        return {i: kind_p[INTENTS[i][0]] * p / within[INTENTS[i][0]] for i, p in probs.items()}

    def parse(self, text: str) -> Understanding:
        return from_scores(self.scores(text), text, self.entities.extract(text), self.backend,
                           complaint_bias=self.complaint_bias)
