"""The ISO 4217 currencies Nexum accepts, written down as plain data.

Source: ISO 4217 "list one" (current currency and funds code list), as published by SIX
Financial Information AG, the ISO 4217 maintenance agency, on behalf of ISO. This table
reflects list one as published on 1 January 2026, which already records these changes:

* ``XCG`` Caribbean Guilder replaced ``ANG`` (same numeric code, 532);
* ``ZWG`` Zimbabwe Gold replaced ``ZWL``;
* ``SLE`` replaced ``SLL``, ``VES``/``VED`` replaced ``VEF``, ``MRU`` replaced ``MRO`` and
  ``STN`` replaced ``STD``;
* ``HRK`` (Croatia) and ``BGN`` (Bulgaria) were withdrawn when those countries adopted the
  euro, and ``CUC`` was withdrawn by Cuba.

Two kinds of list-one entry are left out on purpose, because an amount in them cannot be
counted in whole minor units:

* codes whose minor unit is "N.A.": the precious metals (``XAU``, ``XAG``, ``XPT``,
  ``XPD``), ``XDR``, the bond-market units ``XBA`` to ``XBD``, ``XSU``, ``XUA``, and the
  testing and no-currency codes ``XTS`` and ``XXX``;
* withdrawn codes, which live on list three (historic denominations) instead.

Fund codes that do have a minor unit (``BOV``, ``CHE``, ``CHW``, ``CLF``, ``COU``, ``MXV``,
``USN``, ``UYI``, ``UYW`` and the Arab Monetary Fund's unit of account ``XAD``) are kept, with
``is_fund=True``, so that callers can decide whether to allow them for customer accounts.

Keeping the table up to date: ISO publishes amendments to list one from time to time. Apply
each one by editing the rows below (add, change or delete a row) in a reviewed change, and
adjust the tests in ``tests/unit/test_money.py`` that pin the codes it touches. Nothing here
is downloaded at run time: what the bank accepts must not change without a code review.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class CurrencyEntry(NamedTuple):
    """One row of ISO 4217 list one.

    ``code`` is the alphabetic code (three upper-case ASCII letters); ``numeric`` the
    numeric code as a string, so that leading zeros survive (``"008"`` for ``ALL``);
    ``minor_units`` the decimal exponent of the minor unit (2 means amounts are counted in
    hundredths); ``name`` the English name as ISO spells it; ``is_fund`` marks fund codes
    and units of account, which are not circulating currencies.
    """

    code: str
    numeric: str
    minor_units: int
    name: str
    is_fund: bool = False


ACTIVE_CURRENCIES: Final[tuple[CurrencyEntry, ...]] = (
    CurrencyEntry("AED", "784", 2, "UAE Dirham"),
    CurrencyEntry("AFN", "971", 2, "Afghani"),
    CurrencyEntry("ALL", "008", 2, "Lek"),
    CurrencyEntry("AMD", "051", 2, "Armenian Dram"),
    CurrencyEntry("AOA", "973", 2, "Kwanza"),
    CurrencyEntry("ARS", "032", 2, "Argentine Peso"),
    CurrencyEntry("AUD", "036", 2, "Australian Dollar"),
    CurrencyEntry("AWG", "533", 2, "Aruban Florin"),
    CurrencyEntry("AZN", "944", 2, "Azerbaijan Manat"),
    CurrencyEntry("BAM", "977", 2, "Convertible Mark"),
    CurrencyEntry("BBD", "052", 2, "Barbados Dollar"),
    CurrencyEntry("BDT", "050", 2, "Taka"),
    CurrencyEntry("BHD", "048", 3, "Bahraini Dinar"),
    CurrencyEntry("BIF", "108", 0, "Burundi Franc"),
    CurrencyEntry("BMD", "060", 2, "Bermudian Dollar"),
    CurrencyEntry("BND", "096", 2, "Brunei Dollar"),
    CurrencyEntry("BOB", "068", 2, "Boliviano"),
    CurrencyEntry("BOV", "984", 2, "Mvdol", is_fund=True),
    CurrencyEntry("BRL", "986", 2, "Brazilian Real"),
    CurrencyEntry("BSD", "044", 2, "Bahamian Dollar"),
    CurrencyEntry("BTN", "064", 2, "Ngultrum"),
    CurrencyEntry("BWP", "072", 2, "Pula"),
    CurrencyEntry("BYN", "933", 2, "Belarusian Ruble"),
    CurrencyEntry("BZD", "084", 2, "Belize Dollar"),
    CurrencyEntry("CAD", "124", 2, "Canadian Dollar"),
    CurrencyEntry("CDF", "976", 2, "Congolese Franc"),
    CurrencyEntry("CHE", "947", 2, "WIR Euro", is_fund=True),
    CurrencyEntry("CHF", "756", 2, "Swiss Franc"),
    CurrencyEntry("CHW", "948", 2, "WIR Franc", is_fund=True),
    CurrencyEntry("CLF", "990", 4, "Unidad de Fomento", is_fund=True),
    CurrencyEntry("CLP", "152", 0, "Chilean Peso"),
    CurrencyEntry("CNY", "156", 2, "Yuan Renminbi"),
    CurrencyEntry("COP", "170", 2, "Colombian Peso"),
    CurrencyEntry("COU", "970", 2, "Unidad de Valor Real", is_fund=True),
    CurrencyEntry("CRC", "188", 2, "Costa Rican Colon"),
    CurrencyEntry("CUP", "192", 2, "Cuban Peso"),
    CurrencyEntry("CVE", "132", 2, "Cabo Verde Escudo"),
    CurrencyEntry("CZK", "203", 2, "Czech Koruna"),
    CurrencyEntry("DJF", "262", 0, "Djibouti Franc"),
    CurrencyEntry("DKK", "208", 2, "Danish Krone"),
    CurrencyEntry("DOP", "214", 2, "Dominican Peso"),
    CurrencyEntry("DZD", "012", 2, "Algerian Dinar"),
    CurrencyEntry("EGP", "818", 2, "Egyptian Pound"),
    CurrencyEntry("ERN", "232", 2, "Nakfa"),
    CurrencyEntry("ETB", "230", 2, "Ethiopian Birr"),
    CurrencyEntry("EUR", "978", 2, "Euro"),
    CurrencyEntry("FJD", "242", 2, "Fiji Dollar"),
    CurrencyEntry("FKP", "238", 2, "Falkland Islands Pound"),
    CurrencyEntry("GBP", "826", 2, "Pound Sterling"),
    CurrencyEntry("GEL", "981", 2, "Lari"),
    CurrencyEntry("GHS", "936", 2, "Ghana Cedi"),
    CurrencyEntry("GIP", "292", 2, "Gibraltar Pound"),
    CurrencyEntry("GMD", "270", 2, "Dalasi"),
    CurrencyEntry("GNF", "324", 0, "Guinean Franc"),
    CurrencyEntry("GTQ", "320", 2, "Quetzal"),
    CurrencyEntry("GYD", "328", 2, "Guyana Dollar"),
    CurrencyEntry("HKD", "344", 2, "Hong Kong Dollar"),
    CurrencyEntry("HNL", "340", 2, "Lempira"),
    CurrencyEntry("HTG", "332", 2, "Gourde"),
    CurrencyEntry("HUF", "348", 2, "Forint"),
    CurrencyEntry("IDR", "360", 2, "Rupiah"),
    CurrencyEntry("ILS", "376", 2, "New Israeli Sheqel"),
    CurrencyEntry("INR", "356", 2, "Indian Rupee"),
    CurrencyEntry("IQD", "368", 3, "Iraqi Dinar"),
    CurrencyEntry("IRR", "364", 2, "Iranian Rial"),
    CurrencyEntry("ISK", "352", 0, "Iceland Krona"),
    CurrencyEntry("JMD", "388", 2, "Jamaican Dollar"),
    CurrencyEntry("JOD", "400", 3, "Jordanian Dinar"),
    CurrencyEntry("JPY", "392", 0, "Yen"),
    CurrencyEntry("KES", "404", 2, "Kenyan Shilling"),
    CurrencyEntry("KGS", "417", 2, "Som"),
    CurrencyEntry("KHR", "116", 2, "Riel"),
    CurrencyEntry("KMF", "174", 0, "Comorian Franc"),
    CurrencyEntry("KPW", "408", 2, "North Korean Won"),
    CurrencyEntry("KRW", "410", 0, "Won"),
    CurrencyEntry("KWD", "414", 3, "Kuwaiti Dinar"),
    CurrencyEntry("KYD", "136", 2, "Cayman Islands Dollar"),
    CurrencyEntry("KZT", "398", 2, "Tenge"),
    CurrencyEntry("LAK", "418", 2, "Lao Kip"),
    CurrencyEntry("LBP", "422", 2, "Lebanese Pound"),
    CurrencyEntry("LKR", "144", 2, "Sri Lanka Rupee"),
    CurrencyEntry("LRD", "430", 2, "Liberian Dollar"),
    CurrencyEntry("LSL", "426", 2, "Loti"),
    CurrencyEntry("LYD", "434", 3, "Libyan Dinar"),
    CurrencyEntry("MAD", "504", 2, "Moroccan Dirham"),
    CurrencyEntry("MDL", "498", 2, "Moldovan Leu"),
    CurrencyEntry("MGA", "969", 2, "Malagasy Ariary"),
    CurrencyEntry("MKD", "807", 2, "Denar"),
    CurrencyEntry("MMK", "104", 2, "Kyat"),
    CurrencyEntry("MNT", "496", 2, "Tugrik"),
    CurrencyEntry("MOP", "446", 2, "Pataca"),
    CurrencyEntry("MRU", "929", 2, "Ouguiya"),
    CurrencyEntry("MUR", "480", 2, "Mauritius Rupee"),
    CurrencyEntry("MVR", "462", 2, "Rufiyaa"),
    CurrencyEntry("MWK", "454", 2, "Malawi Kwacha"),
    CurrencyEntry("MXN", "484", 2, "Mexican Peso"),
    CurrencyEntry("MXV", "979", 2, "Mexican Unidad de Inversion (UDI)", is_fund=True),
    CurrencyEntry("MYR", "458", 2, "Malaysian Ringgit"),
    CurrencyEntry("MZN", "943", 2, "Mozambique Metical"),
    CurrencyEntry("NAD", "516", 2, "Namibia Dollar"),
    CurrencyEntry("NGN", "566", 2, "Naira"),
    CurrencyEntry("NIO", "558", 2, "Cordoba Oro"),
    CurrencyEntry("NOK", "578", 2, "Norwegian Krone"),
    CurrencyEntry("NPR", "524", 2, "Nepalese Rupee"),
    CurrencyEntry("NZD", "554", 2, "New Zealand Dollar"),
    CurrencyEntry("OMR", "512", 3, "Rial Omani"),
    CurrencyEntry("PAB", "590", 2, "Balboa"),
    CurrencyEntry("PEN", "604", 2, "Sol"),
    CurrencyEntry("PGK", "598", 2, "Kina"),
    CurrencyEntry("PHP", "608", 2, "Philippine Peso"),
    CurrencyEntry("PKR", "586", 2, "Pakistan Rupee"),
    CurrencyEntry("PLN", "985", 2, "Zloty"),
    CurrencyEntry("PYG", "600", 0, "Guarani"),
    CurrencyEntry("QAR", "634", 2, "Qatari Rial"),
    CurrencyEntry("RON", "946", 2, "Romanian Leu"),
    CurrencyEntry("RSD", "941", 2, "Serbian Dinar"),
    CurrencyEntry("RUB", "643", 2, "Russian Ruble"),
    CurrencyEntry("RWF", "646", 0, "Rwanda Franc"),
    CurrencyEntry("SAR", "682", 2, "Saudi Riyal"),
    CurrencyEntry("SBD", "090", 2, "Solomon Islands Dollar"),
    CurrencyEntry("SCR", "690", 2, "Seychelles Rupee"),
    CurrencyEntry("SDG", "938", 2, "Sudanese Pound"),
    CurrencyEntry("SEK", "752", 2, "Swedish Krona"),
    CurrencyEntry("SGD", "702", 2, "Singapore Dollar"),
    CurrencyEntry("SHP", "654", 2, "Saint Helena Pound"),
    CurrencyEntry("SLE", "925", 2, "Leone"),
    CurrencyEntry("SOS", "706", 2, "Somali Shilling"),
    CurrencyEntry("SRD", "968", 2, "Surinam Dollar"),
    CurrencyEntry("SSP", "728", 2, "South Sudanese Pound"),
    CurrencyEntry("STN", "930", 2, "Dobra"),
    CurrencyEntry("SVC", "222", 2, "El Salvador Colon"),
    CurrencyEntry("SYP", "760", 2, "Syrian Pound"),
    CurrencyEntry("SZL", "748", 2, "Lilangeni"),
    CurrencyEntry("THB", "764", 2, "Baht"),
    CurrencyEntry("TJS", "972", 2, "Somoni"),
    CurrencyEntry("TMT", "934", 2, "Turkmenistan New Manat"),
    CurrencyEntry("TND", "788", 3, "Tunisian Dinar"),
    CurrencyEntry("TOP", "776", 2, "Pa'anga"),
    CurrencyEntry("TRY", "949", 2, "Turkish Lira"),
    CurrencyEntry("TTD", "780", 2, "Trinidad and Tobago Dollar"),
    CurrencyEntry("TWD", "901", 2, "New Taiwan Dollar"),
    CurrencyEntry("TZS", "834", 2, "Tanzanian Shilling"),
    CurrencyEntry("UAH", "980", 2, "Hryvnia"),
    CurrencyEntry("UGX", "800", 0, "Uganda Shilling"),
    CurrencyEntry("USD", "840", 2, "US Dollar"),
    CurrencyEntry("USN", "997", 2, "US Dollar (Next day)", is_fund=True),
    CurrencyEntry("UYI", "940", 0, "Uruguay Peso en Unidades Indexadas (UI)", is_fund=True),
    CurrencyEntry("UYU", "858", 2, "Peso Uruguayo"),
    CurrencyEntry("UYW", "927", 4, "Unidad Previsional", is_fund=True),
    CurrencyEntry("UZS", "860", 2, "Uzbekistan Sum"),
    CurrencyEntry("VED", "926", 2, "Bolívar Soberano"),
    CurrencyEntry("VES", "928", 2, "Bolívar Soberano"),
    CurrencyEntry("VND", "704", 0, "Dong"),
    CurrencyEntry("VUV", "548", 0, "Vatu"),
    CurrencyEntry("WST", "882", 2, "Tala"),
    CurrencyEntry("XAD", "396", 2, "Arab Accounting Dinar", is_fund=True),
    CurrencyEntry("XAF", "950", 0, "CFA Franc BEAC"),
    CurrencyEntry("XCD", "951", 2, "East Caribbean Dollar"),
    CurrencyEntry("XCG", "532", 2, "Caribbean Guilder"),
    CurrencyEntry("XOF", "952", 0, "CFA Franc BCEAO"),
    CurrencyEntry("XPF", "953", 0, "CFP Franc"),
    CurrencyEntry("YER", "886", 2, "Yemeni Rial"),
    CurrencyEntry("ZAR", "710", 2, "Rand"),
    CurrencyEntry("ZMW", "967", 2, "Zambian Kwacha"),
    CurrencyEntry("ZWG", "924", 2, "Zimbabwe Gold"),
)
