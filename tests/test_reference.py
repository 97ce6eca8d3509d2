from exactsync.reference import normalize_reference, reference_for


def test_reference_for_invoices_and_credit_notes():
    assert reference_for("WC-", "invoice", "1234") == "WC-1234"
    assert reference_for("WC-", "credit_note", "1240") == "WC-CN-1240"
    assert reference_for("", "invoice", " 000000123 ") == "000000123"


def test_normalize_makes_typing_differences_equal():
    assert normalize_reference(" wc-1234 ") == normalize_reference("WC-1234") == "WC-1234"
    assert normalize_reference("M2-000000123") == normalize_reference("m2-123") == "M2-123"
    assert normalize_reference("M2-CN-0007") == "M2-CN-7"
    assert normalize_reference("WC-1234") != normalize_reference("WC-12340")
    assert normalize_reference("") is None and normalize_reference(None) is None
    assert normalize_reference("0") == "0"
