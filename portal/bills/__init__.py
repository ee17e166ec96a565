"""A resident's bills and payments: the list of bills, a bill with its PDF and payment QR
code, the payment history with a chart of charges and consumption."""
