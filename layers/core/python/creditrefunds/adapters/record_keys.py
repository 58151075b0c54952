"""MACs over the records that can move money or decide, made and checked by KMS (HMAC_SHA_256).

Each purpose (domain/authentic.py) maps to a key whose policy lets only the writing function's role
generate; readers may only verify. A MAC checked once is remembered for the life of the container (the
same message and MAC give the same answer), so a warm function re-reading a day's instructions asks KMS
once per instruction, not once per read. A MAC the container made itself is checked too when it is read
back: what it reads is the table's item, not what it wrote.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Mapping
from typing import Any

from creditrefunds.domain.authentic import DECISION, INSTRUCTION, LEDGER, LINK, MATCH

ALGORITHM = "HMAC_SHA_256"
REMEMBERED = 50_000  # verified (message, MAC) pairs kept (about 10 MB); the set starts over past this


class RecordKeys:
    def __init__(self, kms: Any, ledger_key: str, match_key: str, link_key: str, decision_key: str,
                 instruction_key: str) -> None:
        self._kms = kms
        self._keys = {LEDGER: ledger_key, MATCH: match_key, LINK: link_key, DECISION: decision_key,
                      INSTRUCTION: instruction_key}
        self._verified: set[tuple[str, bytes, str]] = set()
        self._lock = threading.Lock()
        self.calls = 0  # KMS calls made (for the benchmark)

    @classmethod
    def from_outputs(cls, kms: Any, outputs: Mapping[str, str]) -> RecordKeys:
        """The keys a deployed stack names in its outputs (`LedgerKeyArn`, ...): for the CLI and the tests."""
        return cls(kms, *(outputs[f"{name}KeyArn"] for name in ("Ledger", "Match", "Link", "Decision", "Instruction")))

    def mac(self, purpose: str, message: bytes) -> str:
        self.calls += 1
        answer = self._kms.generate_mac(KeyId=self._keys[purpose], Message=message, MacAlgorithm=ALGORITHM)
        return base64.b64encode(bytes(answer["Mac"])).decode()  # read back, it is verified like any other

    def valid(self, purpose: str, message: bytes, mac: str | None) -> bool:
        if not mac:
            return False
        with self._lock:
            if (purpose, message, mac) in self._verified:
                return True
        try:
            raw = base64.b64decode(mac, validate=True)
        except (binascii.Error, ValueError):
            return False
        self.calls += 1
        try:
            answer = self._kms.verify_mac(KeyId=self._keys[purpose], Message=message, MacAlgorithm=ALGORITHM,
                                          Mac=raw)
        except self._kms.exceptions.KMSInvalidMacException:
            return False
        if not answer["MacValid"]:
            return False
        with self._lock:
            if len(self._verified) >= REMEMBERED:
                self._verified.clear()
            self._verified.add((purpose, message, mac))
        return True
