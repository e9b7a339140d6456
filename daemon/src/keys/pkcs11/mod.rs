//! Smart cards and hardware tokens over PKCS#11 (being written).
