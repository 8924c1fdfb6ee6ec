"""Message understanding for driver group chats: is a message a question, a complaint
(诉求, which becomes a ticket) or chit-chat, which category, is it urgent, and which
entities (amount, plate, phone, highway, stake, place, time) it names.

Two backends share one result type (`understanding.Understanding`): an in-process
scikit-learn model (`embedded`) and a Rasa 3.6 server (`rasa_backend`); `service.NluService`
picks between them. Kept import-light: the Rasa venv imports `nlu.rasa_components`.
"""
