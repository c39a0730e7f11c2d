"""KIERTO-haastepaja invitations: staff create an event, invite a segment, collect RSVPs.

when.py      dates and times as Finns type them (pure)
seats.py     going / waitlist / promotion rules
segments.py  who may be invited, and by what
invite.py    the invitation and the notices, as each language's recipients see them
deliver.py   the one place that queues messages to other people (the outbox)
rsvp.py      invitation buttons, .ics, attendee details, check-in, reminders' buttons
staff.py     /events: live counts, exports, QR, cancel and change of time
compose.py   /newevent: compose -> preview -> test -> audience -> schedule -> confirm
jobs.py      what the scheduler fires: due broadcasts, reminders, delivery reports
"""
