"""Entity definitions of the Exact sandbox: fields and their OData types, keys, page sizes.

Field lists follow the reference (exact-online-api.md §1.3, §1.4, §5); only what the tool and
the simulator checklist need is modelled. Types are short codes (see ``odata.TYPE_NAMES``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Entity", "ENTITIES", "ME_FIELDS", "SALES_ENTRY_LINE_FIELDS"]

G, S, D, I16, I32, I64, DBL, B = "Guid", "String", "DateTime", "Int16", "Int32", "Int64", "Double", "Boolean"


@dataclass(frozen=True)
class Entity:
    route: str  # "salesentry/SalesEntries" (the path after /api/v1/{division}/)
    type_name: str  # __metadata.type
    fields: dict[str, str]
    key: str | None = "ID"
    methods: frozenset[str] = frozenset({"GET"})
    page_size: int = 60
    mode: str = "standard"  # standard | bulk | sync | read
    table: str = ""  # which state table serves it
    mandatory_filter: tuple[str, ...] = ()
    navs: dict[str, dict[str, str]] = field(default_factory=dict)


ME_FIELDS = {
    "UserID": G, "AccountingDivision": I32, "CurrentDivision": I32, "DivisionCustomer": G,
    "DivisionCustomerCode": S, "DivisionCustomerName": S, "Email": S, "EmployeeID": G, "FirstName": S,
    "FullName": S, "Gender": S, "Initials": S, "Language": S, "LanguageCode": S, "LastName": S,
    "Legislation": I64, "MiddleName": S, "Mobile": S, "Nationality": S, "Phone": S, "PhoneExtension": S,
    "PictureUrl": S, "ServerTime": D, "ServerUtcOffset": DBL, "ThumbnailPicture": S, "ThumbnailPictureFormat": S,
    "Title": S, "UserName": S,
}

_ACCOUNT = {
    "ID": G, "Accountant": G, "AccountManager": G, "AddressLine1": S, "AddressLine2": S, "AddressLine3": S,
    "Blocked": B, "ChamberOfCommerce": S, "City": S, "Code": S, "Country": S, "Created": D, "Division": I32,
    "Email": S, "GLAccountSales": G, "GLAR": G, "IsSales": B, "IsSupplier": B, "Language": S, "Modified": D,
    "Name": S, "PaymentConditionSales": S, "Postcode": S, "SalesCurrency": S, "SalesVATCode": S, "SearchCode": S,
    "Status": S, "Type": S, "VATNumber": S,
}

_VAT_PERCENTAGE = {
    "ID": G, "VATCodeID": G, "Division": I32, "LineNumber": I32, "Percentage": DBL, "StartDate": D,
    "EndDate": D, "Type": I16, "Created": D, "Modified": D,
}

_VAT_CODE = {
    "ID": G, "Code": S, "Description": S, "Division": I32, "Percentage": DBL, "Type": S,
    "VATTransactionType": S, "OssCountry": S, "GLToPay": G, "GLToPayCode": S, "GLToPayDescription": S,
    "GLToClaim": G, "GLToClaimCode": S, "Charged": B, "EUSalesListing": S, "IntraStat": B, "IsBlocked": B,
    "LegalText": S, "CalculationBasis": I16, "VatMargin": I16, "Country": S, "Created": D, "Modified": D,
}

_GL = {
    "ID": G, "Code": S, "Description": S, "Division": I32, "Type": I32, "TypeDescription": S,
    "BalanceSide": S, "BalanceType": S, "VATCode": S, "VATDescription": S, "IsBlocked": B,
    "UseCostcenter": I16, "UseCostunit": I16, "Created": D, "Modified": D,
}

_JOURNAL = {
    "ID": G, "Code": S, "Description": S, "Division": I32, "Type": I32, "TypeDescription": S, "Currency": S,
    "AllowVariableCurrency": B, "AllowVariableExchangeRate": B, "IsBlocked": B, "GLAccount": G,
    "Created": D, "Modified": D,
}

_PERIOD = {"ID": G, "Division": I32, "FinYear": I16, "FinPeriod": I16, "StartDate": D, "EndDate": D,
           "Created": D, "Modified": D}

_JOURNAL_STATUS = {"Division": I32, "Journal": S, "JournalDescription": S, "Year": I16, "Period": I16,
                   "Status": I16, "StatusDescription": S}

SALES_ENTRY_LINE_FIELDS = {
    "ID": G, "EntryID": G, "Division": I32, "LineNumber": I32, "AmountFC": DBL, "AmountDC": DBL,
    "VATAmountFC": DBL, "VATAmountDC": DBL, "VATBaseAmountFC": DBL, "VATBaseAmountDC": DBL,
    "VATCode": S, "VATCodeDescription": S, "VATPercentage": DBL, "GLAccount": G, "GLAccountCode": S,
    "GLAccountDescription": S, "Description": S, "Notes": S, "Quantity": DBL, "CostCenter": S, "CostUnit": S,
    "Type": I32, "Project": G, "From": D, "To": D, "SerialNumber": S,
}

_SALES_ENTRY = {
    "EntryID": G, "Division": I32, "Journal": S, "JournalDescription": S, "Customer": G, "CustomerName": S,
    "EntryDate": D, "EntryNumber": I32, "InvoiceNumber": I32, "ReportingYear": I16, "ReportingPeriod": I16,
    "YourRef": S, "Description": S, "Currency": S, "Rate": DBL, "AmountDC": DBL, "AmountFC": DBL,
    "VATAmountDC": DBL, "VATAmountFC": DBL, "Type": I32, "TypeDescription": S, "Status": I16,
    "StatusDescription": S, "DueDate": D, "PaymentCondition": S, "PaymentReference": S, "OrderNumber": I32,
    "Document": G, "ExternalLinkReference": S, "Reversal": B, "BatchNumber": I32, "Created": D, "Creator": G,
    "CreatorFullName": S, "Modified": D, "Modifier": G, "ModifierFullName": S,
}

_TL = {
    "ID": G, "Division": I32, "EntryID": G, "EntryNumber": I32, "LineNumber": I32, "LineType": I16,
    "Type": I32, "JournalCode": S, "JournalDescription": S, "Date": D, "FinancialYear": I16,
    "FinancialPeriod": I16, "Account": G, "AccountCode": S, "AccountName": S, "GLAccount": G,
    "GLAccountCode": S, "GLAccountDescription": S, "AmountDC": DBL, "AmountFC": DBL, "AmountVATFC": DBL,
    "AmountVATBaseFC": DBL, "VATCode": S, "VATCodeDescription": S, "VATPercentage": DBL, "VATType": S,
    "Currency": S, "ExchangeRate": DBL, "Description": S, "YourRef": S, "InvoiceNumber": I32,
    "OrderNumber": I32, "PaymentReference": S, "DueDate": D, "Status": I16, "Created": D, "Modified": D,
}
_TL_SYNC = dict(_TL, Timestamp=I64)

_DELETED = {"ID": G, "Division": I32, "EntityKey": G, "EntityType": I16, "DeletedBy": G, "DeletedDate": D,
            "Timestamp": I64}

_DIVISION = {
    "Code": I32, "Hid": I64, "Description": S, "Country": S, "Currency": S, "Current": B, "Status": I16,
    "Legislation": I64, "VATNumber": S, "StartDate": D, "DivisionMoveDate": D, "Customer": G,
    "CustomerCode": S, "CustomerName": S, "Created": D, "Modified": D,
}

_RECEIVABLE = {
    "ID": G, "Division": I32, "Account": G, "AccountCode": S, "AccountName": S, "AmountDC": DBL, "AmountFC": DBL,
    "Currency": S, "Description": S, "DueDate": D, "EntryDate": D, "EntryID": G, "EntryNumber": I32,
    "InvoiceDate": D, "InvoiceNumber": I32, "IsFullyPaid": B, "JournalCode": S, "Status": I16, "YourRef": S,
    "TransactionAmountDC": DBL, "TransactionAmountFC": DBL, "Created": D, "Modified": D,
}

_WEBHOOK = {"ID": G, "CallbackURL": S, "ClientID": G, "Created": D, "Creator": G, "CreatorFullName": S,
            "Description": S, "Division": I32, "IsInstant": B, "Topic": S, "UserID": G}

_ACCOUNT_FILTER = (
    "Accountant", "AccountManager", "ChamberOfCommerce", "Code", "Country", "Created", "Email", "ID",
    "IsSales", "IsSupplier", "Modified", "Name", "SearchCode", "Status", "Type", "VATNumber",
)
# [infer] the reference does not list TransactionLines' mandatory-filter fields; these are the
# fields a reconciliation tool filters on.
_TL_FILTER = (
    "Account", "Created", "Date", "EntryID", "EntryNumber", "FinancialPeriod", "FinancialYear", "GLAccount",
    "ID", "InvoiceNumber", "JournalCode", "Modified", "Type", "YourRef",
)

_M = "Exact.Web.Api.Models."

ENTITIES: dict[str, Entity] = {
    e.route.lower(): e
    for e in [
        Entity("system/Divisions", _M + "System.Division", _DIVISION, key="Code", table="divisions"),
        Entity("crm/Accounts", _M + "Account", _ACCOUNT, methods=frozenset({"GET", "POST"}), table="accounts",
               mandatory_filter=_ACCOUNT_FILTER),
        Entity("vat/VATCodes", _M + "VATCode", _VAT_CODE, table="vat_codes",
               navs={"VATPercentages": _VAT_PERCENTAGE}),
        Entity("vat/VatPercentages", _M + "VatPercentage", _VAT_PERCENTAGE, table="vat_percentages"),
        Entity("financial/GLAccounts", _M + "GLAccount", _GL, table="gl_accounts"),
        Entity("financial/Journals", _M + "Journal", _JOURNAL, table="journals"),
        Entity("financial/FinancialPeriods", _M + "FinancialPeriod", _PERIOD, table="periods"),
        Entity("read/financial/JournalStatusList", _M + "Read.Financial.JournalStatusList", _JOURNAL_STATUS,
               key=None, mode="read", table="journal_status"),
        Entity("salesentry/SalesEntries", _M + "SalesEntry", _SALES_ENTRY, key="EntryID",
               methods=frozenset({"GET", "POST", "PUT", "DELETE"}), table="entries",
               navs={"SalesEntryLines": SALES_ENTRY_LINE_FIELDS}),
        Entity("salesentry/SalesEntryLines", _M + "SalesEntryLine", SALES_ENTRY_LINE_FIELDS,
               methods=frozenset({"GET", "POST", "PUT", "DELETE"}), table="entry_lines"),
        Entity("financialtransaction/TransactionLines", _M + "Financial.TransactionLine", _TL, table="tl",
               mandatory_filter=_TL_FILTER),
        Entity("bulk/Financial/TransactionLines", _M + "Bulk.Financial.TransactionLine", _TL, page_size=1000,
               mode="bulk", table="tl"),
        Entity("sync/Financial/TransactionLines", _M + "Sync.Financial.TransactionLine", _TL_SYNC,
               page_size=1000, mode="sync", table="tl"),
        Entity("sync/Deleted", _M + "Sync.Deleted", _DELETED, page_size=1000, mode="sync", table="deleted"),
        Entity("cashflow/Receivables", _M + "Cashflow.Receivable", _RECEIVABLE, table="receivables"),
        Entity("webhooks/WebhookSubscriptions", _M + "Webhooks.WebhookSubscription", _WEBHOOK,
               methods=frozenset({"GET", "POST", "DELETE"}), table="webhook_subs"),
    ]
}
