"""Telegram's limits, its fixed error texts and the parameter types of the methods served."""

from __future__ import annotations

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
ROW_WIDTH_LIMIT = 8
KEYBOARD_BUTTON_LIMIT = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
EDIT_NOT_FOUND = "Bad Request: message to edit not found"
DELETE_NOT_FOUND = "Bad Request: message to delete not found"
BLOCKED = "Forbidden: bot was blocked by the user"
KICKED = "Forbidden: bot was kicked from the supergroup chat"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"

#: Update types delivered when the bot has not chosen (Telegram's default list leaves
#: these three out).
NOT_DEFAULT_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

_INT_PARAMS = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "timeout",
        "user_id",
        "reply_to_message_id",
        "cache_time",
        "max_connections",
        "message_thread_id",
        "duration",
        "width",
        "height",
        "from_chat_id",
    }
)
_BOOL_PARAMS = frozenset(
    {
        "show_alert",
        "drop_pending_updates",
        "disable_web_page_preview",
        "disable_notification",
        "protect_content",
        "allow_sending_without_reply",
        "has_spoiler",
        "show_caption_above_media",
        "disable_content_type_detection",
        "allow_paid_broadcast",
    }
)
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "reply_parameters",
        "link_preview_options",
        "allowed_updates",
        "entities",
        "caption_entities",
        "message_ids",
        "media",
    }
)
_INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_BLOCKABLE_PREFIXES = ("send", "edit", "copy", "forward", "deletemessage", "stopmessage")
