"""The payment QR code of a bill (ГОСТ Р 56042-2014) and PDF rendering."""

import io
from datetime import date
from decimal import Decimal

import pytest
import zxingcpp
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from portal.services import documents
from portal.services.documents import Payee, Payer

PAYEE = Payee(
    name="АО «Городской энергосбыт»",
    inn="5247004490",
    kpp="524701001",
    bank_name="ПАО Сбербанк",
    bic="042202603",
    account="40702810442000012345",
    corr_account="30101810900000000603",
    address="607060, Нижегородская обл., г. Выкса, ул. Ленина, д. 12",
)
PERSON = Payer(
    full_name="Иванов Иван Иванович",
    address="г. Выкса, ул. Ленина, д. 1, кв. 2",
    account_number="5200001234",
)
OCTOBER = date(2026, 10, 1)


def decode(png: bytes) -> str:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))
    assert len(found) == 1, found
    assert found[0].format == zxingcpp.BarcodeFormat.QRCode
    return found[0].text


def test_the_payload_of_a_person_is_exact():
    payload = documents.payment_payload(PAYEE, PERSON, OCTOBER, Decimal("1234.56"))
    assert payload == (
        "ST00012"
        "|Name=АО «Городской энергосбыт»"
        "|PersonalAcc=40702810442000012345"
        "|BankName=ПАО Сбербанк"
        "|BIC=042202603"
        "|CorrespAcc=30101810900000000603"
        "|PayeeINN=5247004490"
        "|KPP=524701001"
        "|PersAcc=5200001234"
        "|LastName=Иванов"
        "|FirstName=Иван"
        "|MiddleName=Иванович"
        "|PayerAddress=г. Выкса, ул. Ленина, д. 1, кв. 2"
        "|Purpose=Оплата за октябрь 2026, л/с 5200001234"
        "|Sum=123456"
        "|PaymPeriod=102026"
    )


@pytest.mark.parametrize(
    ("amount", "kopecks"),
    [
        (Decimal("1234.56"), "123456"),
        (Decimal("0.01"), "1"),
        (Decimal("100"), "10000"),
        (Decimal("99.995"), "10000"),  # half-up
        (Decimal("1000000.10"), "100000010"),
    ],
)
def test_sum_is_in_kopecks(amount, kopecks):
    fields = documents.parse_payload(documents.payment_payload(PAYEE, PERSON, OCTOBER, amount))
    assert fields["Sum"] == kopecks


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-150.00"), Decimal("0.004")])
def test_nothing_owed_leaves_the_sum_to_the_payer(amount):
    fields = documents.parse_payload(documents.payment_payload(PAYEE, PERSON, OCTOBER, amount))
    assert "Sum" not in fields
    assert fields["PaymPeriod"] == "102026"


def test_separators_and_line_breaks_never_reach_a_value():
    payer = Payer(
        full_name="Петров|Пётр  Петрович",
        address="г. Выкса,\nул. Мира | д. 5",
        account_number="5200009999",
    )
    payee = Payee(**{**PAYEE.__dict__, "name": "ООО «Свет|и Тепло»"})
    payload = documents.payment_payload(payee, payer, OCTOBER, Decimal("10"))
    fields = documents.parse_payload(payload)
    assert payload.count("|") == len(fields)  # one separator per field, none inside
    assert fields["Name"] == "ООО «Свет и Тепло»"
    assert (fields["LastName"], fields["FirstName"], fields["MiddleName"]) == (
        "Петров",
        "Пётр",
        "Петрович",
    )
    assert fields["PayerAddress"] == "г. Выкса, ул. Мира д. 5"
    assert "\n" not in payload


@given(st.text(min_size=1, max_size=80))
def test_any_name_gives_a_well_formed_payload(name):
    payer = Payer(full_name=name, address=name, account_number="5200000001")
    payload = documents.payment_payload(PAYEE, payer, OCTOBER, Decimal("1"))
    header, *fields = payload.split("|")
    assert header == "ST00012"
    assert all("=" in field and "\n" not in field for field in fields)
    assert documents.parse_payload(payload)["PersAcc"] == "5200000001"


def test_an_organisation_pays_with_its_inn_and_no_person_names():
    payer = Payer(
        full_name="ООО «Ромашка»",
        address="г. Выкса, ул. Заводская, д. 3",
        account_number="5200005555",
        is_person=False,
        inn="5247012345",
    )
    fields = documents.parse_payload(documents.payment_payload(PAYEE, payer, OCTOBER, Decimal(5)))
    assert fields["PayerINN"] == "5247012345"
    assert not {"LastName", "FirstName", "MiddleName"} & fields.keys()


def test_a_person_without_patronymic_has_no_middle_name_field():
    payer = Payer(full_name="Smith John", address="Москва", account_number="1")
    fields = documents.parse_payload(documents.payment_payload(PAYEE, payer, OCTOBER, Decimal(1)))
    assert (fields["LastName"], fields["FirstName"]) == ("Smith", "John")
    assert "MiddleName" not in fields


def test_values_are_cut_to_the_standard_lengths():
    payee = Payee(**{**PAYEE.__dict__, "name": "Я" * 300, "bank_name": "Банк " * 20})
    fields = documents.parse_payload(documents.payment_payload(payee, PERSON, OCTOBER, Decimal(1)))
    assert len(fields["Name"]) == 160
    assert len(fields["BankName"]) <= 45


def test_purpose_names_the_month_in_russian_whatever_the_language():
    assert documents.payment_purpose(date(2026, 1, 1), "5200001234") == (
        "Оплата за январь 2026, л/с 5200001234"
    )


def test_the_qr_code_is_level_m_utf8_and_decodes_back_with_cyrillic():
    payload = documents.payment_payload(PAYEE, PERSON, OCTOBER, Decimal("987.65"))
    qr = documents.make_qr(payload)
    assert qr.error == "M"
    assert not qr.is_micro
    assert decode(documents.qr_png(payload)) == payload
    assert documents.qr_png_data_uri(payload).startswith("data:image/png;base64,")
    svg_uri = documents.qr_svg_data_uri(payload)
    assert svg_uri.startswith("data:image/svg+xml")
    assert documents.qr_svg(payload).startswith("<svg")


def test_render_pdf_makes_a_pdf_with_cyrillic_text_and_fetches_nothing():
    from pypdf import PdfReader

    pdf = documents.render_pdf(
        "<html><body style=\"font-family: 'DejaVu Sans'\">"
        "<p>Квитанция за октябрь</p>"
        '<img src="http://127.0.0.1:9/tracker.png" alt="">'
        '<img src="file:///etc/passwd" alt="">'
        "</body></html>"
    )
    assert pdf.startswith(b"%PDF")
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert "Квитанция за октябрь" in text
