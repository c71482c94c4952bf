module weft.local/weft

go 1.24
