"""Assistant replies: render the conversation, prune it to fit, and generate until the reply ends."""

from __future__ import annotations

from dataclasses import replace

from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.generation.streamers import BaseStreamer

from geolm.inference.conversation import Conversation, reply_end_ids
from geolm.inference.generation import Generation, SamplingOptions, context_length, generate_text, prompt_room


class ResponseGenerator:
    """Replies of one model under fixed sampling options; a reply ends at `<|end|>` or a stop string."""

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, options: SamplingOptions):
        self.model = model
        self.tokenizer = tokenizer
        self.options = options
        self.end_ids = reply_end_ids(tokenizer)

    @property
    def max_prompt_tokens(self) -> int:
        """Prompt room: the context minus the tokens reserved for the reply."""
        return prompt_room(context_length(self.model), self.options.max_new_tokens)

    def new_conversation(self, system: str | None = None) -> Conversation:
        return Conversation(self.tokenizer, self.max_prompt_tokens, system)

    def reply(self, conversation: Conversation, user_text: str, streamer: BaseStreamer | None = None) -> str:
        """Add `user_text`, prune old turns to fit, generate and record the reply, and return it.

        If the message cannot fit even alone (`InputError`) or generation is interrupted, it is taken out.
        """
        return self.reply_generation(conversation, user_text, streamer).text

    def reply_generation(
        self, conversation: Conversation, user_text: str, streamer: BaseStreamer | None = None
    ) -> Generation:
        """As `reply`, with the new token ids beside the recorded (stripped) text."""
        conversation.add("user", user_text)
        try:
            conversation.fit()
            generation = generate_text(
                self.model,
                self.tokenizer,
                conversation.prompt_ids(),
                self.options,
                extra_eos_ids=self.end_ids,
                streamer=streamer,
            )
        except BaseException:  # an interrupted or refused message leaves no unanswered turn behind
            conversation.pop()
            raise
        text = generation.text.strip()
        conversation.add("assistant", text)
        return replace(generation, text=text)
