module weft.local/examples

go 1.24

require weft.local/weft v0.0.0

replace weft.local/weft => ../../guest-sdk/go
