"""2FA codes inbox: pull one-time codes and magic links out of SMS, e-mail and push messages."""
