"""Voice messages: decoding, spoken-number normalisation, the offline speech model, the worker pool.

Nothing here imports Telegram, and nothing heavy happens at import time: the speech model
(the optional `viet-asr` package) is loaded on the first voice message, in a worker thread.
"""
