<p>{{hello}}</p>

<p>{{optionButton}}</p>

<table border="0" cellspacing="0" cellpadding="0" style="padding-top: 10px; padding-bottom: 10px; display: inline-block;">
    <tr>
        <td align="center" style="border-radius: 8px; background-color: #19191D;">
            <a rel="noopener" target="_blank" href="{{redirect}}" class="button">{{buttonText}}</a>
        </td>
    </tr>
</table>

<p>{{optionUrl}}</p>

<a href="{{redirect}}" target="_blank" style="font-size: 12px; line-height: 100%;">{{redirect}}</a>

<p>{{clientInfo}}</p>

<p style="margin-bottom: 0px;">{{thanks}}</p>
<p style="margin-top: 0px;">{{signature}}</p>

<hr style="margin-block-start: 1rem; margin-block-end: 1rem;">

<p style="opacity: 0.7;">{{securityPhrase}}</p>