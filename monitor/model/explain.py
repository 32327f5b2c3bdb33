"""Word attributions for the embedded heads' predictions, with Captum.

The default, `ablation`, is leave-one-word-out (Captum's `FeatureAblation`, with a word's subword
tokens as one feature): each word in turn is taken out of the text (its tokens masked out of
attention and of the mean the heads read), and how far the label's log probability falls is the
word's weight. Positive: the word pushed toward the label; the unit is log probability, so 0.7
means that without this word alone the label's probability would halve. One forward pass per word.

`ig` is Layer Integrated Gradients (Sundararajan et al. 2017) over the word-embedding layer, from a
baseline of [PAD] tokens ([CLS]/[SEP] kept), `steps` forward and backward passes per text; its
weights sum to log P(label | text) - log P(label | baseline). `ixg` is gradient x input on the
embeddings, one backward pass. Measured by ERASER comprehensiveness on the dev sets
(docs/model.md, "Explanations"), ablation named the words the prediction rests on best, at about
the cost of 20-step integrated gradients on headlines; gradient x input barely beat random words.

Every method runs on a float32 copy of the served encoder (made on first use, on the same device):
gradients and small differences in bf16 are too coarse to rank words by, and the serving model is
left as it is, under `inference_mode`. Cost grows with the words of a text: this is for the texts
behind an alert and for on-demand use, never on the scoring path.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from monitor.explanation import Explanation, merge_tokens, word_of_tokens
from monitor.model.encoder import Encoder, mean_pool
from monitor.model.heads import Head
from monitor.model.hf import HFClassifier

METHODS = ("ablation", "ig", "ixg")
"""`ablation`: each word left out in turn (the default); `ig`: Layer Integrated Gradients;
`ixg`: gradient x input on the embeddings."""


@dataclass(frozen=True)
class Target:
    """One text to explain for one head."""

    text: str
    head: Head
    """The embedded head; for a checkpoint, one whose `labels` name its classes in id order
    (its weights are not read)."""
    label: str
    """The head's label to explain (its prediction, or what `score` stored)."""


class WordAttributor:
    """Attributes the embedded heads' labels to words through an fp32 copy of the encoder."""

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        model: PreTrainedModel,
        device: torch.device,
        max_seq_tokens: int,
        *,
        method: str = "ablation",
        steps: int = 20,
        batch_texts: int = 8,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        self.tokenizer = tokenizer
        self.served = model
        self.device = device
        self.max_seq_tokens = max_seq_tokens
        self.method = method
        self.steps = steps
        self.batch_texts = batch_texts
        self._model: PreTrainedModel | None = None

    @classmethod
    def for_encoder(cls, encoder: Encoder) -> WordAttributor:
        return cls(encoder.tokenizer, encoder.model, encoder.device, encoder.max_seq_tokens)

    @property
    def name(self) -> str:
        return f"ig{self.steps}" if self.method == "ig" else self.method

    def model(self) -> PreTrainedModel:
        if self._model is None:
            model = copy.deepcopy(self.served).eval()
            # The served weights may be inference tensors (deltas are added under inference_mode),
            # which autograd refuses to save: fresh fp32 clones of them.
            with torch.inference_mode(False):
                for module in model.modules():
                    for name, param in module._parameters.items():
                        if param is not None:
                            module._parameters[name] = torch.nn.Parameter(
                                param.detach().clone().float(), requires_grad=False
                            )
                    for name, buffer in module._buffers.items():
                        if buffer is not None:
                            module._buffers[name] = buffer.clone()
            self._model = model
        return self._model

    def predict(self, texts: Sequence[str], head: Head) -> list[str]:
        """The head's label for each text, by the fp32 copy (what the explanation explains)."""
        labels: list[str] = []
        for lo in range(0, len(texts), 64):
            batch = self._tokenize(texts[lo : lo + 64])
            with torch.inference_mode():
                logp = self._log_probs(batch["input_ids"], batch["attention_mask"], head)
            labels += [head.labels[int(i)] for i in logp.argmax(dim=-1)]
        return labels

    def explain(self, targets: Sequence[Target], version: str) -> list[Explanation]:
        """One explanation per target, in order; every word of each text, in reading order.

        Texts go in batches of like length, each text's targets together: leaving a word out of
        a customer message costs one encoder pass for both its heads (`_ablate`)."""
        out: list[Explanation | None] = [None] * len(targets)
        order = sorted(range(len(targets)), key=lambda i: (len(targets[i].text), targets[i].text))
        for lo in range(0, len(order), self.batch_texts):
            rows = order[lo : lo + self.batch_texts]
            weights, offsets = self._attribute([targets[i] for i in rows])
            for row, i in enumerate(rows):
                t = targets[i]
                words = merge_tokens(t.text, offsets[row], weights[row])
                out[i] = Explanation(t.label, words, f"{self.name}:{version}")
        return [e for e in out if e is not None]

    def _tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(
            list(texts),
            truncation=True,
            max_length=self.max_seq_tokens,
            padding=True,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in batch.items()}

    def _log_probs(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, head: Head) -> torch.Tensor:
        return self._scores(input_ids, attention_mask, [head])

    def _scores(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, heads: Sequence[Head]) -> torch.Tensor:
        """Each head's log probabilities, side by side in head order, from one encoder pass."""
        hidden = self.model()(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        emb = mean_pool(hidden, attention_mask)
        return torch.cat(
            [
                torch.log_softmax((emb @ h.weight.to(emb.device).T + h.bias.to(emb.device)) / h.temperature, dim=-1)
                for h in heads
            ],
            dim=-1,
        )

    def _attribute(self, targets: Sequence[Target]) -> tuple[list[list[float]], list[list[tuple[int, int]]]]:
        """Per-token weights (summed over the embedding's dimensions) and offsets of each text."""
        # Imported here: captum (and the matplotlib it pulls in) costs half a second at start-up,
        # which the scoring path never needs.
        from captum.attr import LayerGradientXActivation, LayerIntegratedGradients

        heads = list({id(t.head): t.head for t in targets}.values())
        first = {id(h): sum(len(g.labels) for g in heads[:k]) for k, h in enumerate(heads)}
        batch = self._tokenize([t.text for t in targets])
        ids, mask = batch["input_ids"], batch["attention_mask"]
        # The label's column among the heads' outputs side by side (`_scores`).
        label = torch.tensor([first[id(t.head)] + t.head.labels.index(t.label) for t in targets], device=ids.device)
        layer = self.model().get_input_embeddings()

        def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self._scores(input_ids, attention_mask, heads)

        offsets = [[(int(a), int(b)) for a, b in row] for row in batch["offset_mapping"].cpu().tolist()]
        if self.method == "ablation":
            return self._ablate(targets, ids, mask, label, offsets, heads=heads), offsets
        if self.method == "ig":
            pad = int(self.tokenizer.pad_token_id or 0)
            special = batch["special_tokens_mask"].bool() | (mask == 0)
            baseline = torch.where(special, ids, torch.full_like(ids, pad))
            attr = LayerIntegratedGradients(forward, layer).attribute(
                ids,
                baselines=baseline,
                target=label,
                additional_forward_args=(mask,),
                n_steps=self.steps,
                internal_batch_size=len(targets) * self.steps,
            )
        else:
            attr = LayerGradientXActivation(forward, layer).attribute(
                ids, target=label, additional_forward_args=(mask,)
            )
        weights = (attr.sum(dim=-1) * mask).detach().cpu().tolist()
        return weights, offsets

    def _ablate(
        self,
        targets: Sequence[Target],
        ids: torch.Tensor,
        mask: torch.Tensor,
        label: torch.Tensor,
        offsets: list[list[tuple[int, int]]],
        *,
        heads: Sequence[Head],
    ) -> list[list[float]]:
        """Leave-one-word-out: a word's tokens are masked out of attention (as if deleted), and the
        fall in the label's log probability is its weight, shared among its tokens.

        A text explained for two heads is two rows that every ablation perturbs alike: the encoder
        runs once per distinct row and both heads read that pass."""
        from captum.attr import FeatureAblation

        groups = torch.zeros_like(ids)
        for row, t in enumerate(targets):
            groups[row] = torch.tensor(word_of_tokens(t.text, offsets[row]), device=ids.device) + 1
        dropped = -1
        baseline = torch.where(groups > 0, torch.full_like(ids, dropped), ids)

        def forward(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            keep = input_ids != dropped
            rows = torch.cat([torch.where(keep, input_ids, 0), attention_mask * keep], dim=1)
            distinct, inverse = torch.unique(rows, dim=0, return_inverse=True)
            n = input_ids.shape[1]
            return self._scores(distinct[:, :n], distinct[:, n:], heads)[inverse]

        with torch.no_grad():
            attr = FeatureAblation(forward).attribute(
                ids,
                baselines=baseline,
                target=label,
                additional_forward_args=(mask,),
                feature_mask=groups,
                perturbations_per_eval=4,
            )
        sizes = torch.zeros_like(groups).scatter_add_(1, groups, torch.ones_like(groups)).gather(1, groups)
        return (attr.float() / sizes * (groups > 0)).cpu().tolist()


class CheckpointAttributor(WordAttributor):
    """The same attributions for a Hugging Face checkpoint that replaces a head: its own
    tokenizer and classifier, log probabilities over its classes in id order."""

    @classmethod
    def for_checkpoint(cls, classifier: HFClassifier, ours: Sequence[str]) -> tuple[CheckpointAttributor, Head]:
        """The attributor, and a `Head` naming in our words each of the checkpoint's classes."""
        labels = tuple(ours[int(c)] for c in classifier.columns)
        empty = torch.empty(0)
        attributor = cls(classifier.tokenizer, classifier.model, classifier.device, classifier.max_seq_tokens)
        return attributor, Head(labels, empty, empty)

    def _scores(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, heads: Sequence[Head]) -> torch.Tensor:
        logits = self.model()(input_ids=input_ids, attention_mask=attention_mask).logits
        return torch.log_softmax(logits.float(), dim=-1).repeat(1, len(heads))  # one checkpoint: one head
