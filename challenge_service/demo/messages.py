"""Texts that the demo portal shows, in French first, then English."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo
from zoneinfo import ZoneInfoNotFoundError

LANGUAGES = ("fr", "en")

#: Time zone of the pool, in which the demo gives times to citizens.
POOL_TIME_ZONE = "Europe/Paris"

WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": (
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
    ),
}

MONTHS = {
    "fr": (
        "janvier", "février", "mars", "avril", "mai", "juin", "juillet",
        "août", "septembre", "octobre", "novembre", "décembre",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June", "July",
        "August", "September", "October", "November", "December",
    ),
}

#: Name of the time zone after a time, for the pool's zone and for UTC, which
#: applies where the system has no time zone data.
ZONE_NAMES = {
    "fr": {POOL_TIME_ZONE: "heure de Paris", "UTC": "UTC"},
    "en": {POOL_TIME_ZONE: "Paris time", "UTC": "UTC"},
}

#: Fictitious number: ARCEP keeps 01 99 00 00 00 to 01 99 99 99 99 for fiction.
PHONE = {"fr": "01 99 00 12 34", "en": "+33 1 99 00 12 34"}

TEXTS: dict[str, dict[str, Any]] = {
    "fr": {
        "site_name": "Piscine municipale — Aquaforme",
        "skip_link": "Aller au contenu principal",
        "language_nav": "Langue",
        "other_language": "English",
        "book_title": "Réserver un cours d’Aquaforme",
        "intro": (
            "Choisissez un créneau et indiquez votre nom. Une place par réservation."
        ),
        "slots_legend": "Créneau",
        "places": {0: "complet", 1: "1 place restante"},
        "places_many": "{count} places restantes",
        "name_label": "Nom et prénom",
        "name_hint": "Tel qu’il figure sur votre pièce d’identité.",
        "submit": "Réserver",
        "noscript_heading": "JavaScript est désactivé",
        "noscript_body": (
            "La réservation en ligne a besoin de JavaScript pour la"
            " vérification anti-robot. Vous pouvez aussi réserver à l’accueil"
            " de la piscine, du lundi au samedi de 9 h à 19 h, ou par"
            " téléphone au {phone}."
        ),
        "help_heading": "Autres moyens de réserver",
        "help_body": (
            "À l’accueil de la piscine, du lundi au samedi de 9 h à 19 h, ou"
            " par téléphone au {phone}."
        ),
        "error_summary": "Votre réservation n’a pas été enregistrée",
        "error_prefix": "Erreur :",
        "title_error_prefix": "Erreur : ",
        "confirmed_title": "Réservation confirmée",
        "confirmed_body": "Votre place est réservée.",
        "confirmed_name": "Nom",
        "confirmed_slot": "Créneau",
        "confirmed_reference": "Numéro de réservation",
        "confirmed_note": (
            "Présentez ce numéro à l’accueil. Pour annuler, appelez le {phone}."
        ),
        "book_another": "Réserver un autre créneau",
        "error_title": "Page indisponible",
        "back_home": "Retour à la réservation",
        "http_errors": {
            400: "La demande n’est pas valable.",
            404: "Cette page n’existe pas.",
            405: "Cette adresse ne s’utilise pas ainsi.",
            413: "La demande est trop volumineuse.",
            500: "Une erreur est survenue. Merci de réessayer plus tard.",
        },
        "footer": "Démonstration du service de vérification anti-robot.",
    },
    "en": {
        "site_name": "Municipal pool — Aquaforme",
        "skip_link": "Skip to main content",
        "language_nav": "Language",
        "other_language": "Français",
        "book_title": "Book an Aquaforme class",
        "intro": "Choose a slot and give your name. One place per booking.",
        "slots_legend": "Slot",
        "places": {0: "full", 1: "1 place left"},
        "places_many": "{count} places left",
        "name_label": "Full name",
        "name_hint": "As it appears on your ID.",
        "submit": "Book",
        "noscript_heading": "JavaScript is turned off",
        "noscript_body": (
            "Online booking needs JavaScript for the human check. You can also"
            " book at the pool's front desk, Monday to Saturday from 9 am to"
            " 7 pm, or by phone on {phone}."
        ),
        "help_heading": "Other ways to book",
        "help_body": (
            "At the pool's front desk, Monday to Saturday from 9 am to 7 pm,"
            " or by phone on {phone}."
        ),
        "error_summary": "Your booking was not saved",
        "error_prefix": "Error:",
        "title_error_prefix": "Error: ",
        "confirmed_title": "Booking confirmed",
        "confirmed_body": "Your place is booked.",
        "confirmed_name": "Name",
        "confirmed_slot": "Slot",
        "confirmed_reference": "Booking number",
        "confirmed_note": (
            "Show this number at the front desk. To cancel, call {phone}."
        ),
        "book_another": "Book another slot",
        "error_title": "Page unavailable",
        "back_home": "Back to booking",
        "http_errors": {
            400: "The request is not valid.",
            404: "This page does not exist.",
            405: "This address cannot be used that way.",
            413: "The request is too large.",
            500: "Something went wrong. Please try again later.",
        },
        "footer": "Demonstration of the human check service.",
    },
}

#: Reasons for rejecting a booking, shown in the error summary.
REJECTIONS: dict[str, dict[str, str]] = {
    "fr": {
        "name-missing": "Indiquez votre nom et prénom.",
        "name-too-long": "Le nom doit faire au plus {max} caractères.",
        "name-invalid": "Le nom contient des caractères non autorisés.",
        "slot-missing": "Choisissez un créneau.",
        "slot-unknown": "Ce créneau n’existe pas. Choisissez un créneau de la liste.",
        "slot-full": (
            "Ce créneau vient d’être complet. Choisissez un autre créneau :"
            " votre nom a été gardé."
        ),
        "verification-missing": (
            "La vérification anti-robot n’a pas été faite. Attendez le message"
            " « Vérification réussie », puis envoyez le formulaire. Sans"
            " JavaScript, réservez à l’accueil ou par téléphone au {phone}."
        ),
        "verification-expired": (
            "La vérification a expiré, merci de réessayer. Une nouvelle"
            " vérification démarre dès que vous utilisez le formulaire."
        ),
        "verification-duplicate": (
            "Cette vérification a déjà servi. Une nouvelle vérification démarre"
            " dès que vous utilisez le formulaire, puis envoyez-le à nouveau."
        ),
        "verification-invalid": (
            "La vérification anti-robot n’est pas valable. Merci de réessayer."
        ),
        "verification-action": (
            "La vérification anti-robot a été faite pour un autre formulaire."
            " Merci de réessayer."
        ),
        "service-unavailable": (
            "Le service de vérification ne répond pas. Merci de réessayer dans"
            " quelques minutes, ou de réserver par téléphone au {phone}."
        ),
        "portal-misconfigured": (
            "La réservation en ligne est indisponible à cause d’une erreur de"
            " configuration du site. Merci de réserver à l’accueil ou par"
            " téléphone au {phone}."
        ),
        "verification-no-ticket": (
            "La vérification anti-robot n’a pas été faite depuis cette page."
            " Rechargez la page, puis envoyez à nouveau le formulaire."
        ),
        "quota-exceeded": (
            "Votre foyer a déjà fait toutes les réservations en ligne permises"
            " pour cette période. Vous pourrez réserver à nouveau à partir du"
            " {when}, ou dès maintenant à l’accueil ou par téléphone au {phone}."
        ),
        "quota-exceeded-undated": (
            "Votre foyer a déjà fait toutes les réservations en ligne permises"
            " pour cette période. Merci de réessayer dans quelques jours, ou de"
            " réserver à l’accueil ou par téléphone au {phone}."
        ),
    },
    "en": {
        "name-missing": "Enter your full name.",
        "name-too-long": "The name must be at most {max} characters long.",
        "name-invalid": "The name contains characters that are not allowed.",
        "slot-missing": "Choose a slot.",
        "slot-unknown": "This slot does not exist. Choose a slot from the list.",
        "slot-full": (
            "This slot has just filled up. Choose another slot: your name was kept."
        ),
        "verification-missing": (
            "The human check was not done. Wait for the message “Check"
            " complete”, then send the form. Without JavaScript, book at the"
            " front desk or by phone on {phone}."
        ),
        "verification-expired": (
            "The check has expired, please try again. A new check starts as"
            " soon as you use the form."
        ),
        "verification-duplicate": (
            "This check was already used. A new check starts as soon as you use"
            " the form, then send it again."
        ),
        "verification-invalid": "The human check is not valid. Please try again.",
        "verification-action": (
            "The human check was made for another form. Please try again."
        ),
        "service-unavailable": (
            "The check service does not respond. Please try again in a few"
            " minutes, or book by phone on {phone}."
        ),
        "portal-misconfigured": (
            "Online booking is unavailable because of a configuration error on"
            " this site. Please book at the front desk or by phone on {phone}."
        ),
        "verification-no-ticket": (
            "The human check was not made from this page. Reload the page, then"
            " send the form again."
        ),
        "quota-exceeded": (
            "Your household has made all the online bookings allowed for this"
            " period. You can book online again from {when}, or now at the"
            " front desk or by phone on {phone}."
        ),
        "quota-exceeded-undated": (
            "Your household has made all the online bookings allowed for this"
            " period. Please try again in a few days, or book at the front desk"
            " or by phone on {phone}."
        ),
    },
}


def texts(lang: str) -> dict[str, Any]:
    """Return the page texts in ``lang``, with the phone number filled in."""
    phone = PHONE[lang]
    return {
        key: value.replace("{phone}", phone) if isinstance(value, str) else value
        for key, value in TEXTS[lang].items()
    }


def rejection_message(lang: str, reason: str, **values: Any) -> str:
    """Return the sentence that explains ``reason`` in ``lang``."""
    return REJECTIONS[lang][reason].format(phone=PHONE[lang], **values)


def places_left(lang: str, count: int) -> str:
    """Return "3 places restantes" or the like in ``lang``."""
    table = TEXTS[lang]
    return table["places"].get(count) or table["places_many"].format(count=count)


def moment(lang: str, when: datetime.datetime) -> str:
    """Return "mardi 16 janvier à 9 h 01 (heure de Paris)" or the like in ``lang``.

    The time is rounded up to the minute, so that it is never before ``when``.
    """
    local, zone = _pool_time(when)

    if local.second or local.microsecond:
        local = local.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)

    weekday = WEEKDAYS[lang][local.weekday()]
    month = MONTHS[lang][local.month - 1]
    zone_name = ZONE_NAMES[lang][zone]

    minute = f"{local.minute:02d}"

    if lang == "fr":
        day = "1er" if local.day == 1 else str(local.day)
        return f"{weekday} {day} {month} à {local.hour} h {minute} ({zone_name})"

    hour = local.hour % 12 or 12
    period = "am" if local.hour < 12 else "pm"
    return f"{weekday} {local.day} {month} at {hour}:{minute} {period} ({zone_name})"


def _pool_time(when: datetime.datetime) -> tuple[datetime.datetime, str]:
    """Return ``when`` in the pool's time zone, or in UTC without zone data."""
    try:
        return when.astimezone(ZoneInfo(POOL_TIME_ZONE)), POOL_TIME_ZONE
    except ZoneInfoNotFoundError:
        return when.astimezone(datetime.timezone.utc), "UTC"
