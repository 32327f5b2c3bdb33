"""Training the encoder's top blocks over cached outputs of its frozen lower blocks.

The lower blocks never change during training, so their output for each training text is computed
once (no gradients) and kept; every step then runs only the top blocks forward and backward. With
three of six blocks frozen an epoch costs about a third of a full pass, which is what lets the
recipe afford full fine-tuning of the top blocks and more epochs within its time budget.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from transformers.masking_utils import create_bidirectional_mask

from monitor.batching import plan_batches
from monitor.model.deltas import blocks
from monitor.model.encoder import Encoder, mean_pool


class TopBlocks:
    """The encoder's blocks from `first` on, trainable, fed by cached lower-block outputs."""

    def __init__(self, encoder: Encoder, first: int) -> None:
        self.encoder = encoder
        self.first = first
        self.blocks = blocks(encoder.model)[first:]

    def parameters(self) -> list[nn.Parameter]:
        """Freeze the whole encoder, then unfreeze the top blocks; their parameters."""
        for p in self.encoder.model.parameters():
            p.requires_grad_(False)
        params = list(self.blocks.parameters())
        for p in params:
            p.requires_grad_(True)
        return params

    @torch.inference_mode()
    def lower(self, ids: Sequence[list[int]]) -> tuple[list[torch.Tensor], torch.Tensor]:
        """Per text: the output of block `first - 1` (tokens x hidden, unpadded, on the CPU) and
        the frozen encoder's sentence embedding (for the warm-start heads), in one pass."""
        model = self.encoder.model.eval()
        states: list[torch.Tensor] = [torch.empty(0)] * len(ids)
        embeddings = torch.empty((len(ids), self.encoder.hidden_size))
        for batch in plan_batches([len(x) for x in ids], self.encoder.max_batch_tokens):
            input_ids, mask = self.encoder.padded(ids, batch)
            out = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
            hidden = out.hidden_states[self.first].float().cpu()
            embeddings[batch] = mean_pool(out.last_hidden_state.float(), mask).cpu()
            for row, i in enumerate(batch):
                states[i] = hidden[row, : len(ids[i])].clone()
        return states, embeddings

    def forward(self, states: Sequence[torch.Tensor]) -> torch.Tensor:
        """Sentence embeddings of a batch of cached states; gradients flow unless disabled."""
        device = self.encoder.device
        width = max(s.shape[0] for s in states)
        hidden = torch.zeros((len(states), width, states[0].shape[1]))
        mask = torch.zeros((len(states), width), dtype=torch.long)
        for row, s in enumerate(states):
            hidden[row, : s.shape[0]] = s
            mask[row, : s.shape[0]] = 1
        x, mask = hidden.to(device), mask.to(device)
        attention = create_bidirectional_mask(
            config=self.encoder.model.config, inputs_embeds=x, attention_mask=mask
        )
        for block in self.blocks:
            x = block(x, attention)
        return mean_pool(x, mask)
