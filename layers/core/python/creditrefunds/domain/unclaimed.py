"""The settings of unclaimed property and letters (DOMAIN.md sections 9 and 10), with DOMAIN.md's defaults:
the stale period, dormancy, due-diligence minimums and windows, report calendars, NAUPA property codes, and
the holder (the provider: name, NPI, tax id, address) that letters and reports name. A table by state adds
to the default table; the holder's name and tax id are needed before a letter or report is written."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from creditrefunds.domain.money import money

DEFAULT = "*"  # the key of a table's default row


EXAMPLE_NAME = "Example Community Hospital"


class Holder(BaseModel):
    """The provider, as letters and the NAUPA HOLDER record name it. The defaults are an example's (like the
    template's example.org addresses): a hospital sets its own before a letter is mailed or a report filed,
    and `example` says when it has not."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = EXAMPLE_NAME
    npi: str = "1234567893"
    tax_id: str = "000000000"  # nine digits (EIN)
    address: str = "100 Example Way"
    city: str = "Austin"
    state: str = "TX"
    zip: str = "78701"
    contact: str = "Patient Accounts"
    phone: str = "5125550100"
    email: str = "patient.accounts@example.org"
    incorporation_state: str = "TX"  # an owner's state when no address is known (and every payer's)
    sic_code: str = "8062"  # general medical and surgical hospitals

    @field_validator("tax_id", mode="after")
    @classmethod
    def _ein(cls, value: str) -> str:
        digits = value.replace("-", "")
        if value and (len(digits) != 9 or not digits.isdigit()):
            raise ValueError("a tax id is nine digits (EIN)")
        return digits

    @field_validator("npi", mode="after")
    @classmethod
    def _npi(cls, value: str) -> str:
        if value and (len(value) != 10 or not value.isdigit()):
            raise ValueError("an NPI is ten digits")
        return value

    @property
    def example(self) -> bool:
        """Still the example's name or tax id: nothing written with it may be mailed or filed."""
        return self.name == EXAMPLE_NAME or self.tax_id == "000000000"


class Calendar(BaseModel):
    """A state's report: property dormant by `dormant_by` (month-day) is reported by `due` (month-day)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dormant_by: str
    due: str

    @field_validator("dormant_by", "due", mode="after")
    @classmethod
    def _month_day(cls, value: str) -> str:
        date.fromisoformat(f"2001-{value}")  # 29 February is no yearly date
        return value

    def due_on_or_after(self, day: date) -> date:
        """The report date of the cycle `day` falls in: the first due date on or after it."""
        due = date.fromisoformat(f"{day.year}-{self.due}")
        return due if due >= day else date.fromisoformat(f"{day.year + 1}-{self.due}")

    def report_due(self, dormant_on: date) -> date:
        """The first report date whose cut-off the property is dormant by."""
        year = dormant_on.year
        while True:
            cutoff = date.fromisoformat(f"{year}-{self.dormant_by}")
            due = date.fromisoformat(f"{year}-{self.due}")
            if due <= cutoff:  # a due date early in the year reports the year before's property
                cutoff = date.fromisoformat(f"{year - 1}-{self.dormant_by}")
            if dormant_on <= cutoff:
                return due
            year += 1


def _days_table() -> dict[str, tuple[int, int]]:
    return {DEFAULT: (60, 120), **{s: (60, 180) for s in ("AR", "CO", "DE", "IN", "KY")},
            "AZ": (120, 365), "CA": (183, 365)}


class Unclaimed(BaseModel):
    """DOMAIN.md section 9's numbers. Tables are by state, `*` their default row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stale_days: int = Field(default=180, gt=0)
    reissues: int = Field(default=1, ge=0)
    dormancy_years: dict[str, int] = Field(default_factory=lambda: {DEFAULT: 3, "TX": 3, "PA": 3, "WA": 3, "AL": 3})
    letter_minimum: dict[str, Decimal] = Field(default_factory=lambda: {
        DEFAULT: Decimal("50.00"), "AK": Decimal("100.00"), "KS": Decimal("100.00"), "CO": Decimal("25.00"),
        "CT": Decimal("0.00")})
    # (fewest, most) days before the report is due that the due-diligence letter goes out
    letter_window_days: dict[str, tuple[int, int]] = Field(default_factory=_days_table)
    calendar: dict[str, Calendar] = Field(default_factory=lambda: {
        DEFAULT: Calendar(dormant_by="06-30", due="11-01"), "TX": Calendar(dormant_by="03-01", due="07-01")})
    # States where a payer's (business-to-business) credit is not reportable.
    b2b_exempt_states: list[str] = Field(default_factory=list)
    # NAUPA property type codes: a patient's uncashed refund, an insurer's.
    property_code_patient: str = "MS11"  # refunds due
    property_code_payer: str = "MS11"
    # A ledger row to payer id `<prefix><STATE>` whose reference names the check or the instruction is the
    # remittance to the state that closes the property.
    state_payee_prefix: str = "UNCLAIMED-"
    holder: Holder = Field(default_factory=Holder)

    @model_validator(mode="before")
    @classmethod
    def _merge_tables(cls, data: Any) -> Any:
        """A state given adds to the default table: giving Ohio's window must not drop California's."""
        if not isinstance(data, dict):
            return data
        merged = dict(data)
        for name in ("dormancy_years", "letter_minimum", "letter_window_days", "calendar"):
            if isinstance(merged.get(name), dict):
                factory = cls.model_fields[name].default_factory
                merged[name] = {**factory(), **{k.upper(): v for k, v in merged[name].items()}}  # type: ignore[misc,call-arg]
        return merged

    @field_validator("letter_minimum", mode="after")
    @classmethod
    def _minimums(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        if any(v < 0 for v in value.values()):
            raise ValueError("a minimum cannot be negative")
        return {k: money(v) for k, v in value.items()}

    @field_validator("letter_window_days", mode="after")
    @classmethod
    def _windows(cls, value: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
        if any(not 0 <= low <= high for low, high in value.values()):
            raise ValueError("a window is (fewest, most) days, 0 <= fewest <= most")
        return value

    @field_validator("b2b_exempt_states", mode="after")
    @classmethod
    def _states(cls, value: list[str]) -> list[str]:
        if any(len(state.strip()) != 2 or not state.strip().isalpha() for state in value):
            raise ValueError("a state is two letters")
        return [state.strip().upper() for state in value]

    @field_validator("property_code_patient", "property_code_payer", mode="after")
    @classmethod
    def _code(cls, value: str) -> str:
        if len(value) != 4 or not value.isalnum():
            raise ValueError("a NAUPA property type code is four characters, e.g. MS11")
        return value.upper()

    def _of(self, table: dict[str, Any], state: str) -> Any:
        return table.get(state.upper(), table[DEFAULT])

    def dormancy(self, state: str) -> int:
        return int(self._of(self.dormancy_years, state))

    def minimum(self, state: str) -> Decimal:
        return Decimal(self._of(self.letter_minimum, state))

    def window(self, state: str) -> tuple[int, int]:
        low, high = self._of(self.letter_window_days, state)
        return int(low), int(high)

    def calendar_of(self, state: str) -> Calendar:
        found: Calendar = self._of(self.calendar, state)
        return found

    def owner_state(self, payee_type: str, patient_state: str | None) -> str:
        """Whose law: the patient's last known state; a payer's, or an unknown one, the holder's incorporation."""
        if payee_type == "PATIENT" and patient_state:
            return patient_state.upper()
        return self.holder.incorporation_state.upper()
