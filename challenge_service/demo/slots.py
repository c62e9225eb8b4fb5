"""Aquaforme class slots and their bookings, kept in the portal's memory."""

from __future__ import annotations

import dataclasses
import threading
from enum import Enum


@dataclasses.dataclass(frozen=True)
class Slot:
    """One weekly class with a fixed number of places."""

    id: str
    label_fr: str
    label_en: str
    capacity: int

    def label(self, lang: str) -> str:
        """Return the day and time of the class in ``lang``."""
        return self.label_en if lang == "en" else self.label_fr


#: The demo's classes. Capacities are small so that a slot fills up quickly.
SLOTS = (
    Slot("lundi-1800", "Lundi, 18 h 00 – 18 h 45", "Monday, 6:00–6:45 pm", 6),
    Slot("mercredi-1215", "Mercredi, 12 h 15 – 13 h 00", "Wednesday, 12:15–1:00 pm", 4),
    Slot("samedi-1000", "Samedi, 10 h 00 – 10 h 45", "Saturday, 10:00–10:45 am", 2),
)


class Reservation(Enum):
    """Outcome of :meth:`SlotBook.reserve`."""

    RESERVED = "reserved"
    FULL = "full"
    UNKNOWN_SLOT = "unknown-slot"


class SlotBook:
    """Count the places booked in each slot. Safe to share between threads."""

    def __init__(self, slots: tuple[Slot, ...] = SLOTS) -> None:
        self._slots = {slot.id: slot for slot in slots}
        self._booked = {slot.id: 0 for slot in slots}
        self._lock = threading.Lock()

    def slots(self) -> list[Slot]:
        """Return the slots in display order."""
        return list(self._slots.values())

    def get(self, slot_id: str) -> Slot | None:
        """Return the slot with ``slot_id``, or None."""
        return self._slots.get(slot_id)

    def remaining(self, slot_id: str) -> int:
        """Return the number of free places in a slot."""
        with self._lock:
            return self._slots[slot_id].capacity - self._booked[slot_id]

    def remaining_by_slot(self) -> dict[str, int]:
        """Return the free places of every slot, read at one moment."""
        with self._lock:
            return {
                slot_id: slot.capacity - self._booked[slot_id]
                for slot_id, slot in self._slots.items()
            }

    def reserve(self, slot_id: str) -> Reservation:
        """Take one place in a slot if one is free."""
        with self._lock:
            slot = self._slots.get(slot_id)

            if slot is None:
                return Reservation.UNKNOWN_SLOT

            if self._booked[slot_id] >= slot.capacity:
                return Reservation.FULL

            self._booked[slot_id] += 1
            return Reservation.RESERVED
