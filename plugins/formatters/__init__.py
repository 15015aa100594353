"""Built-in data formatters: ChatML (``messages``/``chat_template``), Alpaca, ShareGPT,
plain completion text, and OpenOrca-style question/response rows."""

from harness.hookspecs import hookimpl

from .alpaca import AlpacaFormatter
from .chatml import ChatMLFormatter
from .completion import CompletionFormatter
from .question_response import QuestionResponseFormatter
from .sharegpt import ShareGPTFormatter

FORMATTERS = (ChatMLFormatter, AlpacaFormatter, ShareGPTFormatter, CompletionFormatter, QuestionResponseFormatter)


@hookimpl
def harness_register_formatters(register):
    for formatter in FORMATTERS:
        register(formatter)
