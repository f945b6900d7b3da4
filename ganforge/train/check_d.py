"""`ganforge doctor check-d` lives in `ganforge.train.doctor.check_d`; this name stays for the callers that import
it from here."""
from .doctor.check_d import Verdict, check_discriminators  # noqa: F401
