"""Built-in data formatters: ChatML (``messages``/``chat_template``), Alpaca, ShareGPT,
plain completion text, OpenOrca-style question/response rows, and Axolotl's template-free
``input_output`` segments."""

from harness.hookspecs import hookimpl

from .alpaca import AlpacaFormatter
from .chatml import ChatMLFormatter
from .completion import CompletionFormatter
from .input_output import InputOutputFormatter
from .question_response import QuestionResponseFormatter
from .sharegpt import ShareGPTFormatter

FORMATTERS = (ChatMLFormatter, AlpacaFormatter, ShareGPTFormatter, CompletionFormatter, QuestionResponseFormatter,
              InputOutputFormatter)


@hookimpl
def harness_register_formatters(register):
    for formatter in FORMATTERS:
        register(formatter)
